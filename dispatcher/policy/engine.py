"""``decide``: the one function that says whether a reminder may go now.

Pure: everything it needs is passed in (the compiled policy, the reminder, the person, the
case, the person's recent attempts and ``now``); it reads no clock, does no I/O and keeps no
state, so the daemon, ``simulate`` and the tests all run the same code.

The steps: the rules of the person's jurisdictions (when ``policy.toml`` defines any), the
checks that suppress (an unknown channel, the case's state, a channel the person refused, no
usable contact point, no consent where a rule requires it, a limit of zero), the zones to
judge the person in, the earliest instant the time rules and then the person's wished hours
allow (``deferral``), then send now or defer to that instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from dispatcher.config.schedules_file import ARRANGEMENT_SCHEDULE
from dispatcher.model import Attempt, Case, Decision, Person, Reason, Reminder, Verdict
from dispatcher.policy.case_state import case_gate
from dispatcher.policy.compiled import Policy
from dispatcher.policy.consent import consented_contact
from dispatcher.policy.contacts import choose_contact
from dispatcher.policy.deferral import deferred_until, earliest_allowed
from dispatcher.policy.jurisdictions import DEFAULT_FLAG, person_reading
from dispatcher.policy.limits import line_names
from dispatcher.policy.wishes import PREFERENCE_RULE, Wished, refusal, wished_windows
from dispatcher.policy.zones import ZoneChoice, person_zones

CORE_CASE_STATE = "core: case state"
CORE_CONTACTS = "core: opt-outs and contact points"


def decide(
    policy: Policy,
    reminder: Reminder,
    person: Person,
    case: Case,
    history: Sequence[Attempt],
    now: datetime,
) -> Decision:
    """Send, defer (to the earliest instant every rule allows) or suppress ``reminder``."""
    if policy.places is None:
        return _decide(policy, reminder, person, case, history, now)
    local, reading = person_reading(policy, person)
    decision = _decide(local, reminder, person, case, history, now)
    if not reading.names:
        return decision
    flags = (*decision.flags, DEFAULT_FLAG) if reading.default else decision.flags
    return replace(decision, flags=flags, jurisdictions=reading.names)


def _decide(
    policy: Policy,
    reminder: Reminder,
    person: Person,
    case: Case,
    history: Sequence[Attempt],
    now: datetime,
) -> Decision:
    channel = reminder.channel
    traits = policy.channels.get(channel)
    if traits is None:
        unknown = Reason("unknown_channel", f"channel {channel!r} is not configured", "core")
        return Decision(Verdict.SUPPRESS, now, reasons=(unknown,))

    gate = case_gate(
        case,
        now=now,
        after_cease_allowed=(channel, reminder.template) in policy.after_cease,
        hold_recheck=policy.hold_recheck,
        arrangement=reminder.schedule == ARRANGEMENT_SCHEDULE,
        allowed_in_state=(channel, reminder.template, case.state) in policy.allowed_states,
        original_due=reminder.original_due_at,
    )
    if gate.suppress:
        return _suppressed(now, gate.reason, CORE_CASE_STATE)
    if person.wishes.refused:
        refused = refusal(person, channel)
        if refused is not None:
            return _suppressed(now, refused, PREFERENCE_RULE)

    choice = choose_contact(person, channel, traits.contact_kind)
    if choice.contact is not None and channel in policy.consent_required:
        choice = consented_contact(person, channel, traits.contact_kind, choice)
    if choice.contact is None:
        return _suppressed(now, choice.reason, CORE_CONTACTS)
    contact = choice.contact

    zones, zone_source, flags = _zones(person, policy.fallback_timezone)
    lines_of = None
    if policy.by_line:
        # A limit narrowed to phone lines binds only a reminder to a number of those lines
        # (209 CMR 18.16), and counts only attempts made to such numbers.
        lines_of = line_names(person)
        rules = policy.rules_for(channel, lines_of[contact.value] or None)
    else:
        rules = policy.rules_for(channel)
    if rules.limited_to_zero:
        zero = Reason("rate_limit", f"{channel} is limited to 0 contacts")
        return Decision(Verdict.SUPPRESS, now, None, (zero,), contact, (), zones, zone_source)

    reasons: list[Reason] = []
    if gate.reason is not None and gate.not_before is not None:
        reasons.append(_under(gate.reason, CORE_CASE_STATE))
    start = gate.not_before or now
    wished: Wished = ()
    if person.wishes.hours and not traits.window_exempt:
        wished = wished_windows(person, channel)
    found = earliest_allowed(
        rules, history, case.id, contact.value, zones, start, reasons, wished, lines_of
    )
    if found is None:  # no window opens within the search: decide again then
        until = now + policy.hold_recheck
    else:
        candidate, opened_by_window = found
        if candidate <= now:
            return Decision(Verdict.SEND, now, None, (), contact, flags, zones, zone_source)
        until = deferred_until(
            reminder, rules, zones, candidate, opened_by_window, policy.jitter, wished
        )
    return Decision(Verdict.DEFER, now, until, _unique(reasons), contact, flags, zones, zone_source)


def _suppressed(now: datetime, reason: Reason | None, rule: str) -> Decision:
    """A suppression for ``reason`` (an end of the case, no usable contact), under ``rule``."""
    return Decision(Verdict.SUPPRESS, now, reasons=(_under(reason, rule),) if reason else ())


def _under(reason: Reason, rule: str) -> Reason:
    """``reason`` as given by ``rule`` (built directly: ``dataclasses.replace`` costs more
    than the rest of a suppression)."""
    return Reason(reason.code, reason.text, rule)


def _zones(person: Person, fallback: str) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """The zones to judge ``person`` in, where they came from, and the flags they add."""
    if person.timezone:  # the common case, without building a ZoneChoice
        return (person.timezone,), "person", ()
    where: ZoneChoice = person_zones(person, fallback)
    return where.zones, where.source, ("tz_fallback",) if where.fallback else ()


def _unique(reasons: list[Reason]) -> tuple[Reason, ...]:
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.code, reason)
    return tuple(seen.values())
