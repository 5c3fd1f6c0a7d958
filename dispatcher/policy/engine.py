"""``decide``: the one function that says whether a reminder may go now.

Pure: everything it needs is passed in (the compiled policy, the reminder, the person, the
case, the person's recent attempts and ``now``); it reads no clock, does no I/O and keeps no
state, so the daemon, ``simulate`` and the tests all run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatcher.model import Attempt, Case, Decision, Person, Reason, Reminder, Verdict
from dispatcher.policy.case_state import case_gate
from dispatcher.policy.compiled import ChannelRules, Policy
from dispatcher.policy.contacts import choose_contact
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
from dispatcher.policy.windows import (
    NO_CLOSED_DAYS,
    Window,
    describe_closed,
    next_opening,
    open_interval,
)
from dispatcher.policy.zones import ZoneChoice, person_zones

MAX_ROUNDS = 32  # rules push the candidate instant forward; this bounds a pathological config

CORE_CASE_STATE = "core: case state"
CORE_CONTACTS = "core: opt-outs and contact points"


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


def decide(
    policy: Policy,
    reminder: Reminder,
    person: Person,
    case: Case,
    history: Sequence[Attempt],
    now: datetime,
) -> Decision:
    """Send, defer (to the earliest instant every rule allows) or suppress ``reminder``."""
    channel = reminder.channel
    traits = policy.channels.get(channel)
    if traits is None:
        return Decision(
            Verdict.SUPPRESS,
            now,
            reasons=(Reason("unknown_channel", f"channel {channel!r} is not configured", "core"),),
        )

    gate = case_gate(
        case,
        now=now,
        after_cease_allowed=(channel, reminder.template) in policy.after_cease,
        hold_recheck=policy.hold_recheck,
    )
    if gate.suppress:
        ended = (replace(gate.reason, rule=CORE_CASE_STATE),) if gate.reason else ()
        return Decision(Verdict.SUPPRESS, now, reasons=ended)

    choice = choose_contact(person, channel, traits.contact_kind)
    if choice.contact is None:
        unusable = (replace(choice.reason, rule=CORE_CONTACTS),) if choice.reason else ()
        return Decision(Verdict.SUPPRESS, now, reasons=unusable)
    contact = choice.contact

    if person.timezone:  # the common case, without building a ZoneChoice
        zones: tuple[str, ...] = (person.timezone,)
        zone_source = "person"
        flags: tuple[str, ...] = ()
    else:
        where: ZoneChoice = person_zones(person, policy.fallback_timezone)
        zones, zone_source = where.zones, where.source
        flags = ("tz_fallback",) if where.fallback else ()
    reasons: list[Reason] = []
    if gate.reason is not None and gate.not_before is not None:
        reasons.append(replace(gate.reason, rule=CORE_CASE_STATE))
    candidate = gate.not_before or now
    rules = policy.rules_for(channel)
    windows = rules.windows
    opened_by_window: tuple[datetime, datetime] | None = None
    if any(limit.max == 0 for limit in rules.limits):
        return Decision(
            Verdict.SUPPRESS,
            now,
            contact=contact,
            reasons=(Reason("rate_limit", f"{channel} is limited to 0 contacts"),),
            zones=zones,
            zone_source=zone_source,
        )

    for _ in range(MAX_ROUNDS):
        moved = False
        if history:  # rules over past attempts cannot bind someone never contacted
            for limit in rules.limits:
                clears = limit_clears_at(
                    limit, history, at=candidate, case_id=case.id, contact=contact.value
                )
                if clears > candidate:
                    reasons.append(limit_reason(limit, clears))
                    candidate, moved, opened_by_window = clears, True, None
            for cap in rules.daily_caps:
                clears = daily_cap_clears_at(
                    cap, history, at=candidate, case_id=case.id, contact=contact.value, zones=zones
                )
                if clears > candidate:
                    reasons.append(daily_cap_reason(cap, clears))
                    candidate, moved, opened_by_window = clears, True, None
            if rules.gap:
                clears = gap_clears_at(rules.gap, history, at=candidate)
                if clears > candidate:
                    reasons.append(gap_reason(rules.gap, clears))
                    candidate, moved, opened_by_window = clears, True, None
            if rules.cooldown:
                clears = cooldown_clears_at(
                    rules.cooldown, history, at=candidate, case_id=case.id, zones=zones
                )
                if clears > candidate:
                    reasons.append(cooldown_reason(rules.cooldown, clears))
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
                    return Decision(
                        Verdict.DEFER,
                        now,
                        until=now + policy.hold_recheck,
                        contact=contact,
                        reasons=_unique(reasons),
                        flags=flags,
                        zones=zones,
                        zone_source=zone_source,
                    )
                candidate, moved, opened_by_window = opening[0], True, opening
        if not moved:
            break

    if candidate <= now:
        return Decision(Verdict.SEND, now, None, (), contact, flags, zones, zone_source)
    if opened_by_window is not None:
        if len(zones) > 1:
            opened_by_window = _common_interval(rules, windows or (), zones, candidate)
        candidate = _jitter(reminder, *opened_by_window, policy.jitter)
    return Decision(
        Verdict.DEFER,
        now,
        until=candidate,
        contact=contact,
        reasons=_unique(reasons),
        flags=flags,
        zones=zones,
        zone_source=zone_source,
    )


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
    rules: ChannelRules, windows: tuple[Window, ...], zones: tuple[str, ...], at: datetime
) -> tuple[datetime, datetime]:
    """The stretch from ``at`` during which every zone's window stays open."""
    end = None
    for zone in zones:
        closed = rules.closed_in(zone) if rules.holidays else NO_CLOSED_DAYS
        interval = open_interval(windows, zone, at, closed)
        if interval is not None:
            end = interval[1] if end is None else min(end, interval[1])
    return (at, end if end is not None else at)


def _zone_info(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _unique(reasons: list[Reason]) -> tuple[Reason, ...]:
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.code, reason)
    return tuple(seen.values())
