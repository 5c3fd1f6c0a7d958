"""How long a reminder must wait: the earliest instant every time rule allows (limits over
past attempts, calendar-day caps, the minimum gap, the cooldown, and the windows in every
candidate zone), each binding rule with its reason, and where in a window's opening a deferred
reminder lands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatcher.model import Attempt, Reason, Reminder
from dispatcher.policy.compiled import ChannelRules
from dispatcher.policy.limits import (
    cooldown_clears_at,
    cooldown_reason,
    daily_cap_clears_at,
    daily_cap_reason,
    gap_clears_at,
    gap_reason,
    limit_clears_at,
    limit_reason,
)
from dispatcher.policy.past import PastAttempts, past_attempts
from dispatcher.policy.windows import (
    NO_CLOSED_DAYS,
    Interval,
    Window,
    describe_closed,
    next_opening,
    open_interval,
)
from dispatcher.policy.wishes import Wished, wish_reason

MAX_ROUNDS = 32  # rules push the candidate instant forward; this bounds a pathological config


def earliest_allowed(
    rules: ChannelRules,
    history: Sequence[Attempt],
    case_id: str,
    contact: str,
    zones: tuple[str, ...],
    start: datetime,
    reasons: list[Reason],
    wished: Wished = (),
    lines_of: Mapping[str, str] | None = None,
) -> tuple[datetime, Interval | None] | None:
    """The earliest instant from ``start`` that every rule allows, and then every one of the
    person's ``wished`` hours, with the window opening that set it (None when nothing moved
    it or a rule over past attempts moved it last); None when a window does not open within
    the search ahead. Each rule or wish that moves the instant adds its reason to
    ``reasons``. ``lines_of``: the line of each of the person's addresses, for limits
    narrowed to phone lines."""
    candidate = start
    opened_by_window: Interval | None = None
    windows = rules.windows
    # Sorted once for every round; the instant only moves on from ``start``, so attempts
    # older than the rules can see from there never bind.
    past = past_attempts(history, start - rules.horizon) if history else None
    for round_ in range(MAX_ROUNDS):
        moved = False
        if past is not None:  # rules over past attempts cannot bind someone never contacted
            clears = past_attempts_clear_at(
                rules,
                past,
                candidate,
                case_id,
                contact,
                zones,
                reasons,
                again=round_ > 0,
                lines_of=lines_of,
            )
            if clears > candidate:
                candidate, moved, opened_by_window = clears, True, None
        if windows is not None:
            # With several candidate zones a contact must be allowed in every one of them.
            holidays = rules.holidays
            for zone in zones:
                closed = rules.closed_in(zone) if holidays else NO_CLOSED_DAYS
                if open_interval(windows, zone, candidate, closed) is not None:
                    continue
                opening = next_opening(windows, zone, candidate, closed)
                reasons.append(_closed_reason(rules, windows, zone, candidate, opening, closed))
                if opening is None:
                    return None
                candidate, moved, opened_by_window = opening[0], True, opening
        for wish, open_windows in wished:
            for zone in zones:
                if open_interval(open_windows, zone, candidate) is not None:
                    continue
                opening = next_opening(open_windows, zone, candidate)
                text = describe_closed(open_windows, zone, candidate, opening)
                reasons.append(wish_reason(wish, text))
                if opening is None:
                    return None
                candidate, moved, opened_by_window = opening[0], True, opening
        if not moved:
            break
    return candidate, opened_by_window


def past_attempts_clear_at(
    rules: ChannelRules,
    history: Sequence[Attempt] | PastAttempts,
    at: datetime,
    case_id: str,
    contact: str,
    zones: tuple[str, ...],
    reasons: list[Reason],
    *,
    again: bool = False,
    lines_of: Mapping[str, str] | None = None,
) -> datetime:
    """One pass of the rules over past attempts from ``at``: rolling limits, daily caps, the
    minimum gap, the cooldown, each judged at the instant the ones before it allow. Returns
    where they leave the instant; each rule that moves it adds its reason to ``reasons``.

    ``again`` is a later pass, from an instant at or after where an earlier pass left it:
    then only the daily caps are judged. Every other rule allowed an earlier instant, so it
    allows every later one; a cap judges the local day of the instant, and a later day may be
    full too."""
    if not again:
        for limit in rules.limits:
            clears = limit_clears_at(
                limit, history, at=at, case_id=case_id, contact=contact, lines_of=lines_of
            )
            if clears > at:
                reasons.append(limit_reason(limit, clears))
                at = clears
    for cap in rules.daily_caps:
        clears = daily_cap_clears_at(
            cap, history, at=at, case_id=case_id, contact=contact, zones=zones
        )
        if clears > at:
            reasons.append(daily_cap_reason(cap, clears))
            at = clears
    if again:
        return at
    if rules.gap:
        clears = gap_clears_at(rules.gap, history, at=at)
        if clears > at:
            reasons.append(gap_reason(rules.gap, clears))
            at = clears
    if rules.cooldown:
        clears = cooldown_clears_at(rules.cooldown, history, at=at, case_id=case_id, zones=zones)
        if clears > at:
            reasons.append(cooldown_reason(rules.cooldown, clears))
            at = clears
    return at


def deferred_until(
    reminder: Reminder,
    rules: ChannelRules,
    zones: tuple[str, ...],
    at: datetime,
    opened_by_window: Interval | None,
    jitter: timedelta,
    wished: Wished = (),
) -> datetime:
    """When a reminder deferred to ``at`` goes: ``at`` itself, unless a window's opening set
    it; then a point spread over the first part of the stretch every zone, and every wish,
    keeps open."""
    if opened_by_window is None:
        return at
    if len(zones) > 1 or wished:
        sets = [rules.windows or (), *(windows for _, windows in wished)]
        opened_by_window = _common_interval(rules, sets, zones, at)
    return _jitter(reminder, *opened_by_window, jitter)


def _jitter(reminder: Reminder, start: datetime, end: datetime, spread: timedelta) -> datetime:
    # Deterministic per reminder, so a decision can be replayed; spread across the first part
    # of the window so 08:00 does not start with every deferred reminder at once.
    span = min(spread, (end - start) / 2)
    seconds = int(span.total_seconds())
    if seconds <= 0:
        return start
    # Hashes of int tuples are not salted per process, so this is stable across restarts.
    offset = hash((reminder.id, int(start.timestamp()))) % seconds
    return start + timedelta(seconds=offset)


def _closed_reason(
    rules: ChannelRules,
    windows: tuple[Window, ...],
    zone: str,
    at: datetime,
    opening: tuple[datetime, datetime] | None,
    closed: frozenset[date],
) -> Reason:
    text = describe_closed(windows, zone, at, opening)
    if closed:
        local_day = at.astimezone(_zone_info(zone)).date()
        for holiday in rules.holidays:
            if local_day in holiday.days and zone in holiday.zones:
                name = holiday.names.get(local_day, "public holiday")
                text = (
                    f"{local_day.isoformat()} is a public holiday in {holiday.calendar} "
                    f"({name}); " + text.split(" is outside ", 1)[-1].split("; ", 1)[-1]
                )
                return Reason("holiday", text, holiday.rule or rules.window_rule)
    return Reason("quiet_hours", text, rules.window_rule)


def _common_interval(
    rules: ChannelRules,
    sets: Sequence[tuple[Window, ...]],
    zones: tuple[str, ...],
    at: datetime,
) -> tuple[datetime, datetime]:
    """The stretch from ``at`` during which every zone's windows (of each set: the rules',
    the person's wishes') stay open."""
    end = None
    for zone in zones:
        closed = rules.closed_in(zone) if rules.holidays else NO_CLOSED_DAYS
        for windows in sets:
            interval = open_interval(windows, zone, at, closed)
            if interval is not None:
                end = interval[1] if end is None else min(end, interval[1])
    return (at, end if end is not None else at)


def _zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)
