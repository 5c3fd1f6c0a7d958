"""What every file's model is built from: a strict base model, and the values admins write
as text (clock times, weekdays, time zone names)."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict


class StrictModel(BaseModel):
    """A table of a config file: an unknown key is an error, and values do not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut short: a mistyped value may be a whole
    table or a megabyte of text."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_clock(value: Any) -> time:
    """``"08:00"`` → time(8, 0); ``"24:00"`` means the end of the day (stored as time.max)."""
    if isinstance(value, time):
        return value
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{shown(value)} is not a time of day (use HH:MM, e.g. 08:00)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f"{shown(value)} is not a time of day")
        return time.max
    return time(hour, minute)


Clock = Annotated[time, BeforeValidator(parse_clock)]


def _zone(value: Any) -> str:
    # A tzdata folder ("America") opens as a directory, and a very long name is an OSError
    # too: every one of them is "not a known time zone", never a traceback.
    try:
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{shown(value)} is not a known time zone (use e.g. Asia/Shanghai)"
        ) from None
    return value


TimeZoneName = Annotated[str, BeforeValidator(_zone)]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(value: Any) -> tuple[int, ...]:
    """``"mon-fri"``, ``["sat", "sun"]``, ``"mon,wed"`` or ``"*"`` → weekday numbers (Mon=0)."""
    if not isinstance(value, str | list | tuple):
        raise ValueError(f"{shown(value)} is not a weekday or range (use e.g. mon-fri, sat)")
    items = value if isinstance(value, list | tuple) else value.split(",")
    days: set[int] = set()
    for raw in items:
        item = str(raw).strip().lower()
        if item in ("*", "all", "daily"):
            days.update(range(7))
            continue
        start, _, end = item.partition("-")
        if start not in WEEKDAYS or (end and end not in WEEKDAYS):
            raise ValueError(f"{shown(raw)} is not a weekday or range (use e.g. mon-fri, sat)")
        first = WEEKDAYS.index(start)
        last = WEEKDAYS.index(end) if end else first
        day = first
        while True:
            days.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    return tuple(sorted(days))


Days = Annotated[tuple[int, ...], BeforeValidator(parse_days)]
