"""The dispatch stage's notion of now: a ``Clock`` is passed in (tests and ``simulate`` pass
their own), never read from a global inside a stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
