"""Allowed contact windows in the person's local time.

A window belongs to the local day it starts on; one whose end is at or before its start runs
past midnight into the next day. Local times are turned into UTC instants with ``zoneinfo``:
a start that falls in a spring-forward gap moves to the first instant after it, and an
ambiguous autumn time takes its first occurrence, so a window is never longer than written
plus the hour the clocks fall back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SEARCH_DAYS = 8  # a weekly pattern repeats within 7 days; one more covers a cross-midnight tail


# eq=False: windows hash by identity, so the cache key of day_intervals (a tuple of the
# compiled policy's windows) costs no field hashing on every decision.
@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """Open from ``start`` to ``end`` local time on the given weekdays (Monday = 0)."""

    days: frozenset[int]
    start: time
    end: time
    rule: str = ""

    def label(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}–{end}"


Interval = tuple[datetime, datetime]
ONE_DAY = timedelta(days=1)
NO_CLOSED_DAYS: frozenset[date] = frozenset()
ALL_DAY = (Window(frozenset(range(7)), time(0), time.max),)
# A holiday run (Golden Week, year-end) can close a week and more: look this much further.
HOLIDAY_SEARCH_DAYS = 31


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_to_utc(day: date, clock: time, zone: ZoneInfo) -> datetime:
    if clock == time.max:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    local = datetime.combine(day, clock, tzinfo=zone)
    instant = local.astimezone(UTC)
    wall = local.replace(tzinfo=None)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant  # exists; an ambiguous autumn time reads as its first occurrence
    # A spring-forward gap: fold=0 and fold=1 read the wall time with the offsets on either
    # side of the jump, so the jump lies between them. The window opens at the first second
    # whose wall time is at or after ``clock``: the end of the gap (half-hour gaps included).
    low, high = sorted((local.replace(fold=1).astimezone(UTC), instant))
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


@lru_cache(maxsize=65536)
def day_intervals(
    windows: tuple[Window, ...],
    zone_name: str,
    day: date,
    closed: frozenset[date] = NO_CLOSED_DAYS,
) -> tuple[Interval, ...]:
    """The UTC intervals of the windows that start on local ``day`` (none on a closed day,
    and a window running past midnight stops at the start of a closed day)."""
    if day in closed:
        return ()
    zone = _zone(zone_name)
    out: list[Interval] = []
    weekday = day.weekday()
    for window in windows:
        if weekday not in window.days:
            continue
        start = _local_to_utc(day, window.start, zone)
        end_day = (
            day
            if (window.end > window.start or window.end == time.max)
            else day + timedelta(days=1)
        )
        if window.end == time.max:
            end = _local_to_utc(day, time.max, zone)
        else:
            end = _local_to_utc(end_day, window.end, zone)
        if end_day != day and end_day in closed:
            end = min(end, _local_to_utc(day, time.max, zone))
        if end > start:
            out.append((start, end))
    return tuple(sorted(out))


@lru_cache(maxsize=65536)
def _around(
    windows: tuple[Window, ...], zone_name: str, day: date, closed: frozenset[date]
) -> tuple[Interval, ...]:
    """The intervals of the windows that start on the local day before ``day``, on ``day``
    and on the day after, in that order: every interval that can contain an instant of
    ``day``, and the first ones that can open after it."""
    return (
        *day_intervals(windows, zone_name, day - ONE_DAY, closed),
        *day_intervals(windows, zone_name, day, closed),
        *day_intervals(windows, zone_name, day + ONE_DAY, closed),
    )


@lru_cache(maxsize=65536)
def _first_later(
    windows: tuple[Window, ...], zone_name: str, day: date, closed: frozenset[date]
) -> Interval | None:
    """The first interval of a window that starts two or more local days after ``day``,
    within the search (every one of them starts after any instant of ``day``)."""
    search = SEARCH_DAYS + (HOLIDAY_SEARCH_DAYS if closed else 0)
    for offset in range(2, search + 1):
        intervals = day_intervals(windows, zone_name, day + timedelta(days=offset), closed)
        if intervals:
            return intervals[0]
    return None


def open_interval(
    windows: tuple[Window, ...],
    zone_name: str,
    at: datetime,
    closed: frozenset[date] = NO_CLOSED_DAYS,
) -> Interval | None:
    """The window interval containing ``at``, if any."""
    local_day = at.astimezone(_zone(zone_name)).date()
    # A window of the day after starts at its midnight or later: it cannot contain ``at``.
    for start, end in _around(windows, zone_name, local_day, closed):
        if start <= at < end:
            return (start, end)
    return None


def next_opening(
    windows: tuple[Window, ...],
    zone_name: str,
    after: datetime,
    closed: frozenset[date] = NO_CLOSED_DAYS,
) -> Interval | None:
    """The first window interval that starts after ``after`` (within SEARCH_DAYS, more when
    there are closed days)."""
    local_day = after.astimezone(_zone(zone_name)).date()
    for start, end in _around(windows, zone_name, local_day, closed):
        if start > after:
            return (start, end)
    return _first_later(windows, zone_name, local_day, closed)


@lru_cache(maxsize=1024)
def _labels(windows: tuple[Window, ...], weekday: int) -> str:
    today = [w.label() for w in windows if weekday in w.days]
    return ", ".join(today) if today else "any window on " + WEEKDAY_NAMES[weekday]


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_closed(
    windows: tuple[Window, ...], zone_name: str, at: datetime, opening: Interval | None
) -> str:
    """``22:40 Asia/Shanghai is outside 08:00–21:00; next window 08:00`` for a reason text."""
    zone = _zone(zone_name)
    local = at.astimezone(zone)
    allowed = _labels(windows, local.weekday())
    text = f"{local.hour:02d}:{local.minute:02d} {zone_name} is outside {allowed}"
    if opening is None:
        return text + f"; no window opens in the next {SEARCH_DAYS} days"
    start = opening[0].astimezone(zone)
    days = (start.date() - local.date()).days
    clock = f"{start.hour:02d}:{start.minute:02d}"
    if days == 0:
        when = clock
    elif days == 1:
        when = f"{clock} tomorrow"
    else:
        when = f"{WEEKDAY_NAMES[start.weekday()]} {start.date().isoformat()} {clock}"
    return text + f"; next window {when}"
