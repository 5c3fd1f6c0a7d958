"""A straightforward reading of the contact policy, for checking ``decide`` against.

It takes the rules from the compiled ``Policy`` itself, not from its per-channel cache; every
rule over past attempts is a plain scan of the whole, unsorted history, judged again in every
round of the search; windows are worked out afresh each time (``day_intervals`` without its
cache) and holidays looked up directly; reason texts are written here. The engine may take any
shortcut it likes (sorting, cut-offs, caches, skipping rules it has proved cannot bind): its
decisions must stay those of this reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.config.durations import format_duration
from dispatcher.model import Attempt, Case, Decision, Outcome, Person, Reason, Reminder, Verdict
from dispatcher.policy import Policy
from dispatcher.policy.case_state import case_gate
from dispatcher.policy.contacts import choose_contact
from dispatcher.policy.deferral import MAX_ROUNDS
from dispatcher.policy.windows import (
    ALL_DAY,
    HOLIDAY_SEARCH_DAYS,
    SEARCH_DAYS,
    day_intervals,
    describe_closed,
)
from dispatcher.policy.zones import person_zones

DAY = timedelta(days=1)
MAYBE_CONVERSATION = {Outcome.CONVERSATION, Outcome.RESERVED, Outcome.SENDING, Outcome.UNKNOWN}


def reference_decide(
    policy: Policy,
    reminder: Reminder,
    person: Person,
    case: Case,
    history: Sequence[Attempt],
    now: datetime,
) -> Decision:
    """What ``decide`` must answer (the same arguments), found the long way."""
    channel = reminder.channel
    if channel not in policy.channels:
        text = f"channel {channel!r} is not configured"
        return Decision(Verdict.SUPPRESS, now, reasons=(Reason("unknown_channel", text, "core"),))
    traits = policy.channels[channel]
    allowed_after_cease = (channel, reminder.template) in policy.after_cease
    gate = case_gate(
        case,
        now=now,
        after_cease_allowed=allowed_after_cease,
        hold_recheck=policy.hold_recheck,
        allowed_in_state=(channel, reminder.template, case.state.value) in policy.allowed_states,
        original_due=reminder.original_due_at,
    )
    if gate.suppress:
        reasons = (replace(gate.reason, rule="core: case state"),) if gate.reason else ()
        return Decision(Verdict.SUPPRESS, now, reasons=reasons)
    choice = choose_contact(person, channel, traits.contact_kind)
    if choice.contact is None:
        reason = choice.reason and replace(choice.reason, rule="core: opt-outs and contact points")
        return Decision(Verdict.SUPPRESS, now, reasons=(reason,) if reason else ())
    contact = choice.contact
    where = person_zones(person, policy.fallback_timezone)
    zones, flags = where.zones, ("tz_fallback",) if where.fallback else ()
    limits = [rule for rule in policy.limits if rule.applies_to(channel)]
    if any(rule.max == 0 for rule in limits):
        zero = Reason("rate_limit", f"{channel} is limited to 0 contacts")
        return Decision(Verdict.SUPPRESS, now, None, (zero,), contact, (), zones, where.source)

    rules = _Rules(policy, channel, case.id, contact.value, zones)
    reasons: list[Reason] = []
    if gate.reason is not None and gate.not_before is not None:
        reasons.append(replace(gate.reason, rule="core: case state"))
    found = rules.earliest(list(history), gate.not_before or now, reasons)
    if found is None:
        until = now + policy.hold_recheck
    else:
        candidate, opening = found
        if candidate <= now:
            return Decision(Verdict.SEND, now, None, (), contact, flags, zones, where.source)
        until = candidate if opening is None else rules.jittered(reminder, candidate, opening)
    unique: list[Reason] = []
    for reason in reasons:  # the first reason of each code, in order
        if all(r.code != reason.code for r in unique):
            unique.append(reason)
    return Decision(Verdict.DEFER, now, until, tuple(unique), contact, flags, zones, where.source)


class _Rules:
    """The rules that bind one channel for one person, read from the policy as written."""

    def __init__(
        self, policy: Policy, channel: str, case_id: str, contact: str, zones: tuple[str, ...]
    ) -> None:
        self.policy, self.case_id, self.contact, self.zones = policy, case_id, contact, zones
        self.limits = [rule for rule in policy.limits if rule.applies_to(channel)]
        self.caps = [cap for cap in policy.daily_caps if cap.applies_to(channel)]
        gap = policy.gap
        self.gap = gap if gap is not None and gap.every and gap.applies_to(channel) else None
        cooldown = policy.cooldown
        self.cooldown = cooldown if cooldown and cooldown.applies_to(channel) else None
        self.holidays = [h for h in policy.holidays if h.applies_to(channel)]
        self.windows = policy.windows_for(channel)
        if self.windows is None and self.holidays:
            self.windows = ALL_DAY
        origins = [w.rule for w in self.windows or () if w.rule]
        origins += [h.rule for h in self.holidays if h.rule]
        self.window_rule = "; ".join(dict.fromkeys(origins)) or None

    def earliest(
        self, history: list[Attempt], at: datetime, reasons: list[Reason]
    ) -> tuple[datetime, tuple[datetime, datetime] | None] | None:
        opening: tuple[datetime, datetime] | None = None
        rounds = 0
        while rounds < MAX_ROUNDS:  # until a round moves nothing
            rounds += 1
            before = at
            for clears_at, reason in self.past_rules(history) if history else ():
                if clears_at(at) > at:
                    at = clears_at(at)
                    reasons.append(reason(at))
                    opening = None
            for zone in self.zones if self.windows is not None else ():
                if self.open_interval(zone, at) is None:
                    found = self.next_opening(zone, at)
                    reasons.append(self.closed_reason(zone, at, found))
                    if found is None:
                        return None
                    at, opening = found[0], found
            if at == before:
                break
        return at, opening

    # -- rules over past attempts, each a scan of the whole history --------------------------

    def past_rules(self, history: list[Attempt]) -> list:
        out: list = []
        for rule in self.limits:
            out.append((self.limit_at(rule, history), self.limit_reason(rule)))
        for cap in self.caps:
            out.append((self.cap_at(cap, history), self.cap_reason(cap)))
        if self.gap is not None:
            out.append((self.gap_at(history), self.gap_reason()))
        if self.cooldown is not None:
            out.append((self.cooldown_at(history), self.cooldown_reason()))
        return out

    def in_scope(self, attempt: Attempt, scope: str) -> bool:
        if scope == "case":
            return attempt.case_id == self.case_id
        if scope == "contact":
            return attempt.contact == self.contact
        return True

    def limit_at(self, rule, history):
        def clears(at: datetime) -> datetime:
            inside = [
                a.at
                for a in history
                if a.counted
                and rule.applies_to(a.channel)
                and self.in_scope(a, rule.scope)
                and a.at > at - rule.per
            ]
            if len(inside) < rule.max:
                return at
            return max(at, sorted(inside)[len(inside) - rule.max] + rule.per)

        return clears

    def cap_at(self, cap, history):
        def counts(a: Attempt) -> bool:
            if not cap.applies_to(a.channel) or not self.in_scope(a, cap.scope):
                return False
            if cap.count == "conversations":
                return a.outcome in MAYBE_CONVERSATION
            return a.counted and (cap.count == "attempts" or a.outcome != Outcome.CONVERSATION)

        def clears(at: datetime) -> datetime:
            out = at
            for zone in self.zones:
                start, end = midnight(at, zone, 0), midnight(at, zone, 1)
                if sum(1 for a in history if start <= a.at < end and counts(a)) >= cap.max:
                    out = max(out, end)
            return out

        return clears

    def gap_at(self, history):
        gap = self.gap
        times = [a.at for a in history if a.counted and gap.applies_to(a.channel)]
        return lambda at: max(at, max(times) + gap.every) if times else at

    def cooldown_at(self, history):
        rule = self.cooldown
        talks = [
            a.at
            for a in history
            if a.outcome == Outcome.CONVERSATION and self.in_scope(a, rule.scope)
        ]
        if not talks:
            return lambda at: at
        last = max(talks)
        if not rule.calendar:
            return lambda at: max(at, last + rule.per)
        days = max(1, round(rule.per / DAY))
        return lambda at: max(at, *(midnight(last, zone, days) for zone in self.zones))

    def limit_reason(self, rule):
        return lambda until: Reason(
            "rate_limit",
            f"{rule.max} {', '.join(sorted(rule.channels))} contact(s) per "
            f"{format_duration(rule.per)} per {rule.scope} reached; the oldest leaves the "
            f"window at {until.strftime('%Y-%m-%d %H:%M')} UTC",
            rule.rule or None,
        )

    def cap_reason(self, cap):
        return lambda until: Reason(
            "daily_cap",
            f"{cap.max} {', '.join(sorted(cap.channels))} {cap.count} per local day per "
            f"{cap.scope} reached; the count starts again at local midnight, "
            f"{until.strftime('%Y-%m-%d %H:%M')} UTC",
            cap.rule or None,
        )

    def gap_reason(self):
        return lambda until: Reason(
            "min_gap",
            f"at least {format_duration(self.gap.every)} between contacts to one person; "
            f"next possible {until.strftime('%Y-%m-%d %H:%M')} UTC",
            self.gap.rule or None,
        )

    def cooldown_reason(self):
        rule = self.cooldown
        days = round(rule.per / DAY)
        span = f"{days} days counting the conversation's day" if rule.calendar else None
        return lambda until: Reason(
            "cooldown",
            f"a conversation took place; no {', '.join(sorted(rule.channels))} for "
            f"{span or format_duration(rule.per)} per {rule.scope}, "
            f"until {until.strftime('%Y-%m-%d %H:%M')} UTC",
            rule.rule or None,
        )

    # -- windows and holidays, worked out afresh ---------------------------------------------

    def closed(self, zone: str) -> frozenset[date]:
        return frozenset(d for h in self.holidays if zone in h.zones for d in h.days)

    def intervals(self, zone: str, day: date) -> tuple[tuple[datetime, datetime], ...]:
        return day_intervals.__wrapped__(self.windows, zone, day, self.closed(zone))

    def open_interval(self, zone: str, at: datetime) -> tuple[datetime, datetime] | None:
        today = at.astimezone(ZoneInfo(zone)).date()
        for day in (today - DAY, today):
            for start, end in self.intervals(zone, day):
                if start <= at < end:
                    return start, end
        return None

    def next_opening(self, zone: str, after: datetime) -> tuple[datetime, datetime] | None:
        today = after.astimezone(ZoneInfo(zone)).date()
        ahead = SEARCH_DAYS + (HOLIDAY_SEARCH_DAYS if self.closed(zone) else 0)
        for offset in range(-1, ahead + 1):
            for start, end in self.intervals(zone, today + offset * DAY):
                if start > after:
                    return start, end
        return None

    def closed_reason(
        self, zone: str, at: datetime, opening: tuple[datetime, datetime] | None
    ) -> Reason:
        text = describe_closed(self.windows, zone, at, opening)
        today = at.astimezone(ZoneInfo(zone)).date()
        for holiday in self.holidays:
            if today in holiday.days and zone in holiday.zones:
                rest = text.split(" is outside ", 1)[-1].split("; ", 1)[-1]
                name = holiday.names.get(today, "public holiday")
                return Reason(
                    "holiday",
                    f"{today.isoformat()} is a public holiday in {holiday.calendar} ({name}); "
                    + rest,
                    holiday.rule or self.window_rule,
                )
        return Reason("quiet_hours", text, self.window_rule)

    def jittered(
        self, reminder: Reminder, at: datetime, opening: tuple[datetime, datetime]
    ) -> datetime:
        start, end = opening
        if len(self.zones) > 1:
            ends = [i[1] for i in (self.open_interval(z, at) for z in self.zones) if i]
            start, end = at, min(ends) if ends else at
        seconds = int(min(self.policy.jitter, (end - start) / 2).total_seconds())
        if seconds <= 0:
            return start
        return start + timedelta(seconds=hash((reminder.id, int(start.timestamp()))) % seconds)


def midnight(instant: datetime, zone: str, days: int) -> datetime:
    """Local midnight ``days`` days after the local date of ``instant`` (or the day's first
    instant when midnight does not exist)."""
    tz = ZoneInfo(zone)
    day = instant.astimezone(tz).date() + days * DAY
    for clock in (time(0), time(1)):
        out = datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)
        if out.astimezone(tz).date() >= day:
            return out
    return out
