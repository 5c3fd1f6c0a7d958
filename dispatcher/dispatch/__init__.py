"""The dispatch stage: claim due reminders, confirm them just before sending, send through
their channel with retry, record the outcomes, drain at stop."""

from dispatcher.dispatch.clock import Clock, utcnow
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_thread import StoreThread

__all__ = ["Clock", "Dispatcher", "StoreThread", "utcnow"]
