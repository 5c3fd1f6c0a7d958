"""Instants as the command line gives them (an ISO date or date-time, read in a zone), and
the time now."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import click


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str, zone: str) -> datetime:
    """An ISO date (midnight in ``zone``) or date-time (with offset, or in ``zone``) → UTC."""
    try:
        if len(text) == 10:
            value = datetime.combine(date.fromisoformat(text), time(0))
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is after the last instant there is
        raise click.BadParameter(f"{text!r} is out of the range of instants") from None
