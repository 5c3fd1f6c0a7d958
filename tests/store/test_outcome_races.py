"""Every outcome update is a compare-and-set on the state it expects, so the store's writers
cannot undo one another: the drain's release and a late confirmation on the second store
thread, two providers' reports on two nodes, a record and a release.

On PostgreSQL (several writers at once) the writers are interleaved for real: the second one
runs on a thread and connection of its own, to its commit, right after the first one's look
(its ``SELECT``) and before its write — the window in which an update matched by id alone
overwrote what the other had just committed. SQLite takes one writer at a time (``BEGIN
IMMEDIATE``), so there the same writers are called in the racy order, one after the other."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import open_store
from dispatcher.store.api import Claim, Store
from tests.store import test_store
from tests.store.test_store import NOW, _people, always, placed

LATER = NOW + timedelta(minutes=1)

# The store suite's fixture: a real SQLite file, and PostgreSQL when it answers.
store = test_store.store


@contextmanager
def after_first_look(store: Store, other: Callable[[], Any]) -> Iterator[list[Any]]:
    """While inside: the first ``SELECT`` that ``store`` runs is followed, before its next
    statement, by ``other()`` on a thread of its own (its own connection), run to its end.
    Yields the list ``other``'s result lands in."""
    engine = store.engine  # type: ignore[attr-defined]
    done: list[Any] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if done or not statement.lstrip().upper().startswith("SELECT"):
            return
        thread = threading.Thread(target=lambda: done.append(other()))
        thread.start()
        thread.join(timeout=30)
        assert done, "the other writer did not finish: it waited for this one"

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield done
    finally:
        event.remove(engine, "after_cursor_execute", after)


def _attempt(store: Store, attempt_id: str) -> dict[str, Any]:
    [row] = [a for a in store.case_history("C0").attempts if a["id"] == attempt_id]
    return row


def _claimed(store: Store, node: str = "a") -> Claim:
    _people(store, 1)
    [claim] = store.claim_due(NOW, 1, always(), timedelta(0), node=node).claims
    return claim


def test_a_confirmation_racing_the_drains_release_leaves_the_claim_released(
    pg_url: str,
) -> None:
    """The drain releases a waiting claim on the loop's store thread while its group's
    confirmation runs on the second one: the confirmation, which looked first, must not write
    ``sending`` over ``released`` (the attempt was never sent, and the reminder is pending
    again for another claim)."""
    confirmer, drainer = open_store(pg_url), open_store(pg_url)
    try:
        claim = _claimed(confirmer)
        with after_first_look(confirmer, lambda: drainer.release([claim], NOW)) as released:
            confirmed = confirmer.start_sending([claim], "a", NOW)
        attempt = _attempt(confirmer, claim.attempt_id)
        assert (attempt["outcome"], attempt["counted"]) == ("released", False)
        assert confirmer.case_history("C0").reminders[0].state is ReminderState.PENDING
        assert confirmed == set(), "a released claim is not confirmed, so never sent"
        assert released == [1]
    finally:
        confirmer.close()
        drainer.close()


def test_two_reports_racing_on_two_nodes_never_move_an_outcome_back(pg_url: str) -> None:
    """Twilio's ``completed`` status reaches one node while detection's ``human`` verdict
    (a conversation) is settled on another: the one that looked first must not write
    ``delivered`` over the ``conversation`` the other committed."""
    node_a, node_b = open_store(pg_url), open_store(pg_url)
    try:
        claim = _claimed(node_a)
        node_a.start_sending([claim], "a", NOW)
        node_a.record(placed([claim], NOW, provider_id="CA1"), node="a")

        def conversation() -> Any:
            return node_b.settle_attempt(
                attempt_id=claim.attempt_id,
                provider_id="CA1",
                outcome=Outcome.CONVERSATION,
                now=LATER,
            )

        with after_first_look(node_a, conversation) as settled:
            node_a.settle_attempt(
                attempt_id=claim.attempt_id, provider_id="CA1", outcome=Outcome.DELIVERED, now=LATER
            )
        assert settled[0].changed
        assert _attempt(node_a, claim.attempt_id)["outcome"] == "conversation"
        assert node_a.case_history("C0").reminders[0].state is ReminderState.DELIVERED
    finally:
        node_a.close()
        node_b.close()


def test_a_release_after_the_record_leaves_the_send_counted(store: Store) -> None:
    """A give-back that comes after the send was recorded (a recovery that looked before
    the record) must not turn a placed, counted attempt into an uncounted release: the
    person was contacted, and the limits must count it."""
    claim = _claimed(store)
    store.start_sending([claim], "a", NOW)
    store.record(placed([claim], NOW, provider_id="SM1"), node="a")
    released = store.release([claim], LATER)
    attempt = _attempt(store, claim.attempt_id)
    assert (attempt["outcome"], attempt["counted"]) == ("placed", True)
    assert store.case_history("C0").reminders[0].state is ReminderState.SENT
    assert released == 0


def test_a_record_after_the_release_changes_nothing_and_is_logged(
    store: Store, caplog: Any
) -> None:
    """A record that arrives for a claim already given back (a lost race: nothing should
    have been sent) leaves the attempt released and uncounted, the reminder as it is, and
    says so in the log."""
    claim = _claimed(store)
    store.start_sending([claim], "a", NOW)
    store.release([claim], NOW)
    with caplog.at_level("WARNING", logger="dispatcher.store"):
        store.record(placed([claim], LATER, provider_id="SM1"), node="a")
    attempt = _attempt(store, claim.attempt_id)
    assert (attempt["outcome"], attempt["counted"], attempt["provider_id"]) == (
        "released",
        False,
        None,
    )
    assert store.case_history("C0").reminders[0].state is ReminderState.PENDING
    [warning] = [r for r in caplog.records if "not recorded" in r.getMessage()]
    assert warning.fields["count"] == 1  # type: ignore[attr-defined]


def test_a_late_record_of_a_nodes_earlier_claim_leaves_its_new_claim_alone(
    store: Store,
) -> None:
    """Node ``a``'s claim expired (its send left unknown) and ``a`` claimed the reminder
    again: the first claim's late record must not settle the reminder its new claim holds."""
    claim = _claimed(store)
    store.start_sending([claim], "a", NOW)
    later = NOW + timedelta(minutes=11)
    assert store.expire_claims(later, ["sms"], timedelta(minutes=10)).requeued == 1
    [again] = store.claim_due(later, 1, always(), timedelta(0), node="a").claims
    store.record(placed([claim], later), node="a")
    history = store.case_history("C0")
    assert history.reminders[0].state is ReminderState.CLAIMED, "the new claim stands"
    assert _attempt(store, again.attempt_id)["outcome"] == "reserved"
