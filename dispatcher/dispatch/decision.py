"""The policy's decision as the send path asks for it: a rule that raises for one reminder
(data no rule foresaw, a bug) defers that reminder, with the reason, instead of ending the
batch — and with it every other send, again at each restart, since the same reminder is
first in due order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from dispatcher.model import Attempt, Case, Decision, Person, Reason, Reminder, Verdict
from dispatcher.policy import Policy, decide

log = logging.getLogger("dispatcher.dispatch")

# How long a reminder the policy could not decide waits before it is decided again.
RETRY_AFTER = timedelta(hours=1)


def decide_guarded(
    policy: Policy,
    reminder: Reminder,
    person: Person,
    case: Case,
    history: Sequence[Attempt],
    now: datetime,
) -> Decision:
    """``decide``, or a deferral by ``RETRY_AFTER`` with the reason ``policy_error`` if it
    raises (logged with the traceback, by reminder and case id only)."""
    try:
        return decide(policy, reminder, person, case, history, now)
    except Exception as error:
        log.error(
            "the policy could not decide a reminder",
            exc_info=True,
            extra={"fields": {"reminder": reminder.id, "case": reminder.case_id}},
        )
        text = (
            f"the policy could not decide ({type(error).__name__}); decided again in "
            f"{int(RETRY_AFTER.total_seconds() // 60)} min (see the daemon's log)"
        )
        return Decision(
            Verdict.DEFER, at=now, until=now + RETRY_AFTER, reasons=(Reason("policy_error", text),)
        )
