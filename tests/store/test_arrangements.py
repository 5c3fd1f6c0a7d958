"""The arrangements' tables over a real store: a store of schema version 9 gains them on
upgrade with nothing else changed, and what the store counts and lists of them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import inspect, text

from dispatcher.model import ArrangementState, Instalment
from dispatcher.store import open_store
from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, PersonIn, Store
from tests.store.test_store import store  # noqa: F401

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def test_a_version_9_store_gains_the_arrangement_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = open_store(url)
    first.upsert(
        [PersonIn("P1", "A B", "en", "UTC")],
        [CaseIn("C1", "P1", "5.00", "USD", date(2026, 1, 1), "standard")],
        NOW,
    )
    with first.engine.begin() as conn:  # type: ignore[attr-defined]
        for table in ("payments", "instalments", "arrangements"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("UPDATE meta SET value = '9' WHERE key = 'schema_version'"))
    first.close()
    upgraded = open_store(url)
    try:
        assert upgraded.migrate() == t.SCHEMA_VERSION
        names = set(inspect(upgraded.engine).get_table_names())  # type: ignore[attr-defined]
        assert {"arrangements", "instalments", "payments"} <= names
        assert upgraded.get_case("C1") is not None
        assert upgraded.balance("C1") == Decimal("5.00")
    finally:
        upgraded.close()


def test_active_arrangements_and_counts(store: Store) -> None:  # noqa: F811
    store.upsert(
        [PersonIn("P1", "A B", "en", "UTC")],
        [CaseIn("C1", "P1", "50.00", "USD", date(2026, 1, 1), "standard")],
        NOW,
    )
    deadline = datetime(2026, 3, 11, tzinfo=UTC)
    made = store.add_arrangement(
        "C1", "promise", [Instalment(1, date(2026, 3, 10), Decimal("20.00"), deadline=deadline)],
        lambda aid: [], lambda case, balance: None, now=NOW, source="test",
    )  # fmt: skip
    assert [a.id for a in store.active_arrangements()] == [made.id]
    assert store.arrangement_counts() == {"active": 1}
    store.cancel_arrangement("C1", now=NOW, source="test", reason="changed mind")
    assert store.active_arrangements() == []
    [ended] = store.arrangements_of("C1")
    assert (ended.state, ended.reason) == (ArrangementState.CANCELLED, "changed mind")
    assert store.arrangement_counts() == {"cancelled": 1}
