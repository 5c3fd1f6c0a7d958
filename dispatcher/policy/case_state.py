"""What a case's state allows: the gate before every other rule.

paid/closed cancel; plan/hardship pause until a date; disputed pauses until resolved
(Reg F §1006.38: stop collecting until verification is sent); ceased suppresses everything but
a template marked ``allowed_after_cease`` (§1006.6(c)); bankrupt and deceased suppress
everything but a template whose ``allowed_states`` names the state (a letter to the estate,
to the trustee). A Breathing Space moratorium (``breathing_space``) holds whatever may still
go, in every state, until it ends. An arrangement (a promise or an
instalment plan) holds the case in ``plan`` with no end date: its ladder waits, while the
arrangement's own reminders go, under every other rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.model import BreathingSpace, Case, CaseState, Reason
from dispatcher.policy.breathing_space import describe, held_until
from dispatcher.policy.limits import utc_minute


@dataclass(frozen=True, slots=True)
class Gate:
    """``suppress`` ends the reminder; otherwise nothing may happen before ``not_before``."""

    suppress: bool
    not_before: datetime | None
    reason: Reason | None


OPEN = Gate(False, None, None)
# An open-ended hold must defer, never send, and must not make the loop spin on it.
MIN_RECHECK = timedelta(minutes=1)


def case_gate(
    case: Case,
    *,
    now: datetime,
    after_cease_allowed: bool,
    hold_recheck: timedelta,
    arrangement: bool = False,
    allowed_in_state: bool = False,
    original_due: datetime | None = None,
) -> Gate:
    """``arrangement``: the reminder is one of an arrangement's (before an instalment);
    ``allowed_in_state``: its template's ``allowed_states`` names the case's state;
    ``original_due``: when it was first due (a moratorium resumes the ladder from it)."""
    state = case.state
    if state is CaseState.OPEN and case.breathing_space is None:  # most cases: nothing to check
        return OPEN
    ended = _ended(case, after_cease_allowed, allowed_in_state)
    if ended is not None:
        return ended
    if case.breathing_space is not None:
        held = _breathing_space(case.breathing_space, original_due or now, now, hold_recheck)
        if held is not None:
            return held
    if state is CaseState.OPEN:
        return OPEN
    if arrangement and state is CaseState.PLAN and case.paused_until is None:
        return OPEN
    if state in (CaseState.PLAN, CaseState.HARDSHIP):
        label = "a payment plan" if state is CaseState.PLAN else "hardship"
        if case.paused_until is None:
            # A pause with no end date given holds until an event ends it, like a dispute.
            return Gate(
                False,
                now + max(hold_recheck, MIN_RECHECK),
                Reason(
                    f"case_{state.value}",
                    f"paused for {label} with no end date"
                    + (" (an arrangement is active)" if state is CaseState.PLAN else ""),
                ),
            )
        if case.paused_until > now:
            return Gate(
                False,
                case.paused_until,
                Reason(
                    f"case_{state.value}",
                    f"paused for {label} until {utc_minute(case.paused_until)} UTC",
                ),
            )
        return OPEN
    if state is CaseState.DISPUTED:
        # No date ends a dispute; look again after hold_recheck (the resolve event also
        # brings the case's reminders forward at once).
        return Gate(
            False,
            now + max(hold_recheck, MIN_RECHECK),
            Reason("case_disputed", "the debt is disputed; paused until the dispute is resolved"),
        )
    return OPEN


def _ended(case: Case, after_cease_allowed: bool, allowed_in_state: bool) -> Gate | None:
    """The suppression of a case whose state lets this reminder go no more, or None."""
    state = case.state
    if state is CaseState.PAID:
        return Gate(True, None, Reason("case_paid", f"case {case.id} is paid"))
    if state is CaseState.CLOSED:
        return Gate(True, None, Reason("case_closed", f"case {case.id} is closed"))
    if state is CaseState.CEASED and not after_cease_allowed:
        return Gate(
            True,
            None,
            Reason(
                "case_ceased",
                "the person asked us to cease communication; "
                "only a template marked allowed_after_cease may go",
            ),
        )
    if state in _FINAL_STATES and not allowed_in_state:
        return Gate(
            True,
            None,
            Reason(
                f"case_{state.value}",
                f"the person is {_FINAL_STATES[state]}; only a template whose allowed_states "
                f"names {state.value} may go",
            ),
        )
    return None


# States in which the debt is no longer the person's to be reminded of.
_FINAL_STATES = {CaseState.BANKRUPT: "bankrupt", CaseState.DECEASED: "deceased"}


def _breathing_space(
    space: BreathingSpace, original_due: datetime, now: datetime, hold_recheck: timedelta
) -> Gate | None:
    """The hold of a Breathing Space moratorium (SI 2020/1311), or None once it lets the
    reminder go."""
    resume = held_until(space, original_due)
    if resume is None:
        # Open-ended until the crisis treatment's end is recorded: look again later.
        again = now + max(hold_recheck, MIN_RECHECK)
        return Gate(False, again, Reason("breathing_space", describe(space)))
    if resume <= now:
        return None
    text = describe(space)
    if space.until is not None and resume > space.until:
        text += f"; this step resumes at {utc_minute(resume)} UTC, where the ladder stood"
    return Gate(False, resume, Reason("breathing_space", text))
