"""The dispatch stage: claim due reminders, confirm them just before sending, send through
their channel with retry, record the outcomes, drain at stop.

Import from the modules (``loop``, ``store_thread``, ``clock``...): the package itself imports
nothing, so a command that needs one small part (the store's health words) does not load the
whole loop and every policy table with it."""
