"""What a case's state allows: the gate before every other rule.

paid/closed cancel; plan/hardship pause until a date; disputed pauses until resolved
(Reg F §1006.38: stop collecting until verification is sent); ceased suppresses everything but
a template marked ``allowed_after_cease`` (§1006.6(c)). An arrangement (a promise or an
instalment plan) holds the case in ``plan`` with no end date: its ladder waits, while the
arrangement's own reminders go, under every other rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.model import Case, CaseState, Reason
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
) -> Gate:
    """``arrangement``: the reminder is one of an arrangement's (before an instalment)."""
    state = case.state
    if state is CaseState.OPEN:  # most cases: nothing to check
        return OPEN
    if arrangement and state is CaseState.PLAN and case.paused_until is None:
        return OPEN
    if state is CaseState.PAID:
        return Gate(True, None, Reason("case_paid", f"case {case.id} is paid"))
    if state is CaseState.CLOSED:
        return Gate(True, None, Reason("case_closed", f"case {case.id} is closed"))
    if state is CaseState.CEASED:
        if after_cease_allowed:
            return OPEN
        return Gate(
            True,
            None,
            Reason(
                "case_ceased",
                "the person asked us to cease communication; "
                "only a template marked allowed_after_cease may go",
            ),
        )
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
