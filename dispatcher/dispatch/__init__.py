"""The dispatch stage: claim due reminders, confirm them just before sending, send through
their channel with retry, record the outcomes, drain at stop."""

from dispatcher.dispatch.loop import Clock, Dispatcher, StoreThread, utcnow

__all__ = ["Clock", "Dispatcher", "StoreThread", "utcnow"]
