"""Durations as admins write them: ``90s``, ``15m``, ``4h``, ``7d``, ``2w``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """Parse a duration; a bare number is seconds. Raises ValueError with the bad value."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 15m, 4h, 7d)")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative; a duration must be zero or more")
        return timedelta(seconds=text)
    compact = text.strip().replace(" ", "")
    pos = 0
    seconds = 0.0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 15m, 4h, 7d)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling, e.g. ``timedelta(hours=4)`` → ``4h``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# A duration field of a settings model: ``poll_interval: Duration = timedelta(seconds=1)``
# reads "1s", "250ms" or a number of seconds.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
