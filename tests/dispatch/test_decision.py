"""A reminder the policy cannot decide is deferred with the reason ``policy_error``; the rest
of its batch is decided and claimed as ever (a pause ending 9999-12-31, stored before such
pauses were refused, made the policy overflow and ended every claim, at every restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from dispatcher.dispatch.decision import RETRY_AFTER, decide_guarded
from dispatcher.model import Verdict
from dispatcher.store import schema as t
from dispatcher.store.api import Store
from tests.dispatch.conftest import NOW
from tests.policy.conftest import DAYTIME, policy
from tests.store.test_store import _people

FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_reminder_the_policy_cannot_decide_waits_and_the_batch_goes_on(store: Store) -> None:
    _people(store, 3)
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            update(t.cases).where(t.cases.c.id == "C1").values(state="plan", paused_until=FOREVER)
        )
    rules = policy(windows=[DAYTIME])
    # Noon in UTC, the people's zone here: inside the window for the others.
    now = NOW.replace(hour=12, minute=0)

    def decide_now(reminder, person, case, history):  # type: ignore[no-untyped-def]
        return decide_guarded(rules, reminder, person, case, history, now)

    batch = store.claim_due(now, 10, decide_now, timedelta(days=30), node="a")
    verdicts = {r.case_id: (d.verdict, [x.code for x in d.reasons]) for r, d in batch.decided}
    assert verdicts["C1"] == (Verdict.DEFER, ["policy_error"])
    assert verdicts["C0"][0] is Verdict.SEND and verdicts["C2"][0] is Verdict.SEND
    assert sorted(c.reminder.case_id for c in batch.claims) == ["C0", "C2"]
    [deferred] = [d for r, d in batch.decided if r.case_id == "C1"]
    assert deferred.until == now + RETRY_AFTER
