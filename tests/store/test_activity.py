"""The console's reads, on SQLite and PostgreSQL: sends, deferrals and suppressions by hour
and channel (a released claim is no send), each channel's last success and failure, and the
nodes holding claims; and the indexes they read by, added by the step to schema 10."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect

from dispatcher.model import Outcome, ReminderState, Verdict
from dispatcher.store import open_store
from dispatcher.store import schema as t
from dispatcher.store.console_api import ChannelRecent, HourCount, NodeClaims
from dispatcher.store.migrations import UPGRADES
from tests.store import test_store
from tests.store.test_store import NOW, _people, always, placed

store = test_store.store
HOUR = NOW.replace(minute=0)


def test_sends_deferrals_and_suppressions_by_hour_and_channel(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 6, due=NOW - timedelta(hours=3))
    earlier = NOW - timedelta(hours=2)
    sends = store.claim_due(earlier, 3, always(), timedelta(days=7), node="a")
    store.record(placed(sends.claims[:2], earlier), node="a")
    store.release(sends.claims[2:], earlier)  # given back: nothing was sent
    store.claim_due(NOW, 2, always(Verdict.DEFER), timedelta(days=7), node="a")
    store.claim_due(NOW, 9, always(Verdict.SUPPRESS), timedelta(days=7), node="a")
    counts = store.activity(NOW - timedelta(hours=3))
    two_ago = HOUR - timedelta(hours=2)
    # The released reminder was decided again in the later claims (deferred or suppressed).
    assert counts == [
        HourCount(two_ago, "sms", "send", 2),
        HourCount(HOUR, "sms", "defer", 2),
        HourCount(HOUR, "sms", "suppress", 2),
    ]
    assert store.activity(NOW - timedelta(minutes=30)) == counts[1:]


def test_a_channel_is_judged_by_its_last_success_and_failure(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 3)
    batch = store.claim_due(NOW, 3, always(), timedelta(days=7), node="a")
    first, second, third = batch.claims
    store.record(placed([first], NOW - timedelta(minutes=10)), node="a")
    failed = placed([second], NOW - timedelta(minutes=5))[0]
    store.record(
        [
            type(failed)(
                **{
                    **vars(failed),
                    "outcome": Outcome.FAILED_TRANSIENT,
                    "reminder_state": ReminderState.PENDING,
                    "error_code": "30003",
                    "reschedule_at": NOW + timedelta(hours=1),
                }
            )
        ],
        node="a",
    )
    assert store.channel_recent(NOW - timedelta(hours=1)) == [
        ChannelRecent("sms", NOW - timedelta(minutes=10), NOW - timedelta(minutes=5), "30003")
    ]
    assert store.channel_recent(NOW + timedelta(seconds=1)) == []  # claimed at NOW
    # The third is still claimed, by node a.
    assert store.node_claims() == [NodeClaims("a", 1, NOW)]
    store.record(placed([third]), node="a")
    assert store.node_claims() == []


def test_schema_ten_adds_the_indexes_on_at(tmp_path: Path) -> None:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with s.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.exec_driver_sql("DROP INDEX ix_attempts_at")
            conn.exec_driver_sql("DROP INDEX ix_decisions_at")
            UPGRADES[9](conn)
            UPGRADES[9](conn)  # safe to run again
            names = {i["name"] for i in inspect(conn).get_indexes("attempts")}
            names |= {i["name"] for i in inspect(conn).get_indexes("decisions")}
        assert {"ix_attempts_at", "ix_decisions_at"} <= names
        assert t.SCHEMA_VERSION >= 10
    finally:
        s.close()
