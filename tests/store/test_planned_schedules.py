"""The fingerprints of the schedules the cases are planned with, on a real SQLite file and on
PostgreSQL: kept and read back, and on a shared store two nodes keeping them at once on a
fresh store both succeed (the later one's are kept)."""

from __future__ import annotations

import threading

import psycopg
from sqlalchemy import insert

from dispatcher.store import open_store
from dispatcher.store import schema as t
from tests.conftest import wait_for


def test_fingerprints_are_kept_and_replaced(store) -> None:  # type: ignore[no-untyped-def]
    assert store.planned_schedules() is None
    store.keep_planned_schedules({"standard": "abc"})
    assert store.planned_schedules() == {"standard": "abc"}
    store.keep_planned_schedules({"standard": "def", "gentle": "123"})
    assert store.planned_schedules() == {"standard": "def", "gentle": "123"}


def test_two_nodes_keeping_fingerprints_on_a_fresh_store_both_succeed(pg_url: str) -> None:
    first, second = open_store(pg_url), open_store(pg_url)
    errors: list[BaseException] = []
    try:
        # The first node has inserted the row, not yet committed; the second finds none.
        with first.engine.connect() as conn:
            conn.execute(insert(t.meta).values(key="planned_schedules", value='{"a": "1"}'))

            def keep() -> None:
                try:
                    second.keep_planned_schedules({"a": "2"})
                except BaseException as exc:  # reported by the assertion below
                    errors.append(exc)

            node = threading.Thread(target=keep)
            node.start()
            wait_for(lambda: _waiting_on_a_lock(pg_url))
            conn.commit()
        node.join(timeout=30)
        assert not node.is_alive()
        assert not errors, errors
        assert second.planned_schedules() == {"a": "2"}
    finally:
        first.close()
        second.close()


def _waiting_on_a_lock(url: str) -> bool:
    base, _, _ = url.partition("?")
    with psycopg.connect(base, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO meta%'"
        ).fetchone()
    return bool(row and row[0])
