"""How open a channel's windows are, hour by hour, over a week: what the console's policy page
draws as a grid and what ``simulate`` shades behind its hour-of-day charts. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.policy.compiled import Policy
from dispatcher.policy.windows import day_intervals

HOUR = timedelta(hours=1)


def week_shares(policy: Policy, channel: str, zone: str, week_of: date) -> list[list[float]] | None:
    """For the week (Monday first) holding ``week_of``: the share of each local hour that
    ``channel`` may contact someone in ``zone`` (0 to 1); None when no window binds it."""
    rules = policy.rules_for(channel)
    if rules.windows is None:
        return None
    closed = rules.closed_in(zone)
    tz = ZoneInfo(zone)
    monday = week_of - timedelta(days=week_of.weekday())
    intervals = [
        interval
        for offset in range(-1, 8)
        for interval in day_intervals(rules.windows, zone, monday + timedelta(days=offset), closed)
    ]
    grid: list[list[float]] = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        row: list[float] = []
        for hour in range(24):
            start = datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
            end = start + HOUR
            open_seconds = sum(
                max(0.0, (min(end, b) - max(start, a)).total_seconds()) for a, b in intervals
            )
            row.append(min(1.0, open_seconds / 3600))
        grid.append(row)
    return grid


def hour_shares(policy: Policy, channel: str, zone: str, week_of: date) -> list[float] | None:
    """For each local hour of the day, the share of that week's days on which ``channel``
    may contact someone in ``zone`` then (0 to 1); None when no window binds it."""
    grid = week_shares(policy, channel, zone, week_of)
    if grid is None:
        return None
    return [sum(day[hour] for day in grid) / 7 for hour in range(24)]
