"""``decide``: the one function that says whether a reminder may go now.

Pure: everything it needs is passed in (the compiled policy, the reminder, the person, the
case, the person's recent attempts and ``now``); it reads no clock, does no I/O and keeps no
state, so the daemon, ``simulate`` and the tests all run the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatcher.model import (
    Attempt,
    Case,
    ContactKind,
    Decision,
    Person,
    Reason,
    Reminder,
    Verdict,
)
from dispatcher.policy.case_state import case_gate
from dispatcher.policy.contacts import choose_contact
from dispatcher.policy.limits import (
    Cooldown,
    Gap,
    Limit,
    cooldown_clears_at,
    cooldown_reason,
    gap_clears_at,
    gap_reason,
    limit_clears_at,
    limit_reason,
)
from dispatcher.policy.windows import Window, describe_closed, next_opening, open_interval

MAX_ROUNDS = 32  # rules push the candidate instant forward; this bounds a pathological config


@dataclass(frozen=True, slots=True)
class ChannelTraits:
    """What the policy must know of a channel: the address kind it needs and whether it is
    exempt from time windows (letters are posted, not received at an hour)."""

    name: str
    contact_kind: ContactKind
    window_exempt: bool = False


@dataclass(frozen=True, slots=True)
class ChannelRules:
    limits: tuple[Limit, ...]
    gap: Gap | None
    cooldown: Cooldown | None
    windows: tuple[Window, ...] | None


@dataclass(frozen=True)
class Policy:
    """A compiled policy: the rules of ``policy.toml`` in the shape ``decide`` uses."""

    channels: Mapping[str, ChannelTraits]
    windows: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)
    limits: tuple[Limit, ...] = ()
    gap: Gap | None = None
    cooldown: Cooldown | None = None
    jitter: timedelta = timedelta(minutes=20)
    hold_recheck: timedelta = timedelta(days=1)
    fallback_timezone: str = "UTC"
    after_cease: frozenset[tuple[str, str]] = frozenset()
    _rules: dict[str, ChannelRules] = field(default_factory=dict, compare=False, repr=False)

    @property
    def lookback(self) -> timedelta:
        """How far back ``decide`` looks at attempts: the longest rule period."""
        spans = [limit.per for limit in self.limits]
        if self.gap:
            spans.append(self.gap.every)
        if self.cooldown:
            spans.append(self.cooldown.per)
        return max(spans, default=timedelta(0))

    def rules_for(self, channel: str) -> ChannelRules:
        """The rules that bind ``channel``, worked out once per channel rather than per
        decision."""
        rules = self._rules.get(channel)
        if rules is None:
            gap = self.gap if self.gap and self.gap.every and self.gap.applies_to(channel) else None
            cooldown = (
                self.cooldown if self.cooldown and self.cooldown.applies_to(channel) else None
            )
            rules = ChannelRules(
                limits=tuple(limit for limit in self.limits if limit.applies_to(channel)),
                gap=gap,
                cooldown=cooldown,
                windows=self.windows_for(channel),
            )
            self._rules[channel] = rules
        return rules

    def windows_for(self, channel: str) -> tuple[Window, ...] | None:
        """The channel's windows; None when no window rule names it (always open)."""
        traits = self.channels.get(channel)
        if traits is not None and traits.window_exempt:
            return None
        if channel in self.windows:
            return self.windows[channel]
        return self.windows.get("*")


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
            reasons=(Reason("unknown_channel", f"channel {channel!r} is not configured"),),
        )

    gate = case_gate(
        case,
        now=now,
        after_cease_allowed=(channel, reminder.template) in policy.after_cease,
        hold_recheck=policy.hold_recheck,
    )
    if gate.suppress:
        return Decision(Verdict.SUPPRESS, now, reasons=(gate.reason,) if gate.reason else ())

    choice = choose_contact(person, channel, traits.contact_kind)
    if choice.contact is None:
        return Decision(Verdict.SUPPRESS, now, reasons=(choice.reason,) if choice.reason else ())
    contact = choice.contact

    zone = person.timezone or policy.fallback_timezone
    flags = () if person.timezone else ("tz_fallback",)
    reasons: list[Reason] = []
    if gate.reason is not None and gate.not_before is not None:
        reasons.append(gate.reason)
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
            if rules.gap:
                clears = gap_clears_at(rules.gap, history, at=candidate)
                if clears > candidate:
                    reasons.append(gap_reason(rules.gap, clears))
                    candidate, moved, opened_by_window = clears, True, None
            if rules.cooldown:
                clears = cooldown_clears_at(rules.cooldown, history, at=candidate, case_id=case.id)
                if clears > candidate:
                    reasons.append(cooldown_reason(rules.cooldown, clears))
                    candidate, moved, opened_by_window = clears, True, None
        if windows is not None and open_interval(windows, zone, candidate) is None:
            opening = next_opening(windows, zone, candidate)
            reasons.append(
                Reason("quiet_hours", describe_closed(windows, zone, candidate, opening))
            )
            if opening is None:
                return Decision(
                    Verdict.DEFER,
                    now,
                    until=now + policy.hold_recheck,
                    contact=contact,
                    reasons=_unique(reasons),
                    flags=flags,
                )
            candidate, moved, opened_by_window = opening[0], True, opening
        if not moved:
            break

    if candidate <= now:
        return Decision(Verdict.SEND, now, contact=contact, flags=flags)
    if opened_by_window is not None:
        candidate = _jitter(reminder, *opened_by_window, policy.jitter)
    return Decision(
        Verdict.DEFER, now, until=candidate, contact=contact, reasons=_unique(reasons), flags=flags
    )


def _unique(reasons: list[Reason]) -> tuple[Reason, ...]:
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.code, reason)
    return tuple(seen.values())
