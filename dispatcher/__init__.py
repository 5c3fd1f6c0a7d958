"""dispatcher: payment and overdue-debt reminders, sent through channel plugins within a
central contact policy."""

from dispatcher.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
