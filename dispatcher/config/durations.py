"""Durations as admins write them: ``90s``, ``15m``, ``4h``, ``7d``, ``2w``, ``1h30m``."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from dispatcher.config.values import shown

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# No setting means more than a century; a longer one would overflow the instants computed
# from it (now + jitter, now + plan_ahead) somewhere far from the config file.
LONGEST = timedelta(days=36_500)


def parse_duration(text: Any) -> timedelta:
    """Parse a duration; a bare number is seconds. Raises ValueError (only) naming the bad
    value, whatever the value's type: a list, a table or a date is not a duration."""
    if isinstance(text, timedelta):
        return _bounded(text, text)
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"{shown(text)} is not a duration (use e.g. 90s, 15m, 4h, 7d)")
    if isinstance(text, int | float):
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError(f"{shown(text)} is not a duration (use e.g. 90s, 15m, 4h, 7d)")
        if text < 0:
            raise ValueError(f"{shown(text)} is negative; a duration must be zero or more")
        return _bounded(text, text if isinstance(text, float) else _seconds(text))
    compact = text.strip().replace(" ", "")
    pos = 0
    seconds = 0.0
    for match in _PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError(f"{shown(text)} is not a duration (use e.g. 90s, 15m, 4h, 7d)")
    return _bounded(text, seconds)


def _seconds(value: int) -> float:
    # float() of an int past 1e308 raises OverflowError: anything that long is too long anyway.
    return float(value) if value <= LONGEST.total_seconds() else math.inf


def _bounded(written: Any, value: timedelta | float) -> timedelta:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not math.isfinite(seconds) or seconds > LONGEST.total_seconds():
        raise ValueError(f"{shown(written)} is longer than 100 years")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


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


def at_least(minimum: timedelta, why: str) -> AfterValidator:
    """A check for a duration field: ``minimum`` or more. For the loops' intervals, where
    zero would spin: ``poll_interval = "0s"`` kept an idle daemon at 60 % CPU."""

    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"must be at least {format_duration_ms(minimum)} ({why})")
        return value

    return AfterValidator(check)


def at_most(maximum: timedelta, why: str) -> AfterValidator:
    """A check for a duration field: ``maximum`` or less, for waits every reminder pays."""

    def check(value: timedelta) -> timedelta:
        if value > maximum:
            raise ValueError(
                f"{format_duration_ms(value)} is longer than {format_duration_ms(maximum)} ({why})"
            )
        return value

    return AfterValidator(check)


def format_duration_ms(value: timedelta) -> str:
    """Like ``format_duration``, with milliseconds for a duration under a second."""
    if value < timedelta(seconds=1):
        return f"{round(value.total_seconds() * 1000)}ms"
    return format_duration(value)


# A duration field of a settings model: ``poll_interval: Duration = timedelta(seconds=1)``
# reads "1s", "250ms" or a number of seconds.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
