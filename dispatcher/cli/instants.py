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
            return datetime.combine(
                date.fromisoformat(text), time(0), tzinfo=ZoneInfo(zone)
            ).astimezone(UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)
