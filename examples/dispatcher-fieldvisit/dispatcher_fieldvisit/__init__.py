"""dispatcher-fieldvisit: the ``field-visit`` channel, found through the entry point
``field-visit`` of the group ``dispatcher``."""

from __future__ import annotations

from collections.abc import Callable

from dispatcher.channel import Channel
from dispatcher.hookspecs import hookimpl
from dispatcher_fieldvisit.channel import FieldVisitChannel
from dispatcher_fieldvisit.settings import FieldVisitSettings

__all__ = ["FieldVisitChannel", "FieldVisitSettings", "register_channels"]


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The field-visit channel type."""
    register(FieldVisitChannel)
