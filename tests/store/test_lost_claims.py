"""A node's reservations its loop does not hold (a claim that committed while its answer was
lost) go back to the pool; those it holds, those confirmed for sending and other nodes' stay."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.model import ReminderState
from tests.store.test_store import NOW, _people, always


def test_only_this_nodes_unheld_reservations_go_back(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 6)
    lost = store.claim_due(NOW, 2, always(), timedelta(0), node="a").claims  # answer lost
    held = store.claim_due(NOW, 1, always(), timedelta(0), node="a").claims
    sending = store.claim_due(NOW, 1, always(), timedelta(0), node="a").claims
    assert store.start_sending(sending, "a", NOW) == {sending[0].attempt_id}
    others = store.claim_due(NOW, 2, always(), timedelta(0), node="b").claims
    later = NOW + timedelta(seconds=5)

    assert store.release_lost_claims("a", {held[0].attempt_id}, later) == 2
    for claim in lost:
        history = store.case_history(claim.case.id)
        assert history.reminders[0].state is ReminderState.PENDING
        assert history.reminders[0].tries == 0, "a try that sent nothing is not counted"
        assert history.attempts[0]["outcome"] == "released"
    for claim, outcome in [(held[0], "reserved"), (sending[0], "sending")] + [
        (c, "reserved") for c in others
    ]:
        history = store.case_history(claim.case.id)
        assert history.reminders[0].state is ReminderState.CLAIMED
        assert history.attempts[0]["outcome"] == outcome
    assert store.release_lost_claims("a", {held[0].attempt_id}, later) == 0, "once only"
    again = store.claim_due(later, 6, always(), timedelta(0), node="a").claims
    assert {c.case.id for c in again} == {c.case.id for c in lost}
