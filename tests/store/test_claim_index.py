"""The claims' index: pending reminders in (due_at, id) order, so a claim reads the first rows
of the due range as they are — on PostgreSQL too, once its statistics see the rows a big
write added (``refresh_statistics``) — and a version 16 store gains the id in it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import inspect

from dispatcher.store import open_store
from dispatcher.store.candidates import candidates_query
from dispatcher.store.schema import SCHEMA_VERSION
from tests.store.test_store import NOW, _people


def _due_index(store) -> list[str]:  # type: ignore[no-untyped-def]
    indexes = inspect(store.engine).get_indexes("reminders")
    return next(i["column_names"] for i in indexes if i["name"] == "ix_reminders_due")


def test_a_version_16_store_gains_the_id_in_the_claims_index(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 3)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_reminders_due")
        conn.exec_driver_sql("CREATE INDEX ix_reminders_due ON reminders (state, due_at)")
        conn.exec_driver_sql("UPDATE meta SET value = '16' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert _due_index(store) == ["state", "due_at"]
    assert store.migrate() == SCHEMA_VERSION == 17
    assert _due_index(store) == ["state", "due_at", "id"]
    assert len(store.list_reminders("pending", None, 0, 10)) == 3  # nothing else touched


def test_postgresql_reads_due_reminders_along_the_index_once_its_statistics_see_them(
    pg_url: str,
) -> None:
    store = open_store(pg_url)
    try:
        # 100 people with 200 reminders each, every hundred sharing a due instant: as a
        # ladder step due at one hour for many cases.
        _people(store, 100, reminders_each=200, due=NOW - timedelta(days=1))
        store.refresh_statistics()
        with store.engine.connect() as conn:
            analysed = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                "AND tablename = 'reminders'"
            ).scalar()
            assert analysed, "refresh_statistics left the reminders without statistics"
            query = store.dialect.lock_candidates(candidates_query(NOW, 500))
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    finally:
        store.close()
    assert "ix_reminders_due" in plan, plan
    assert "Sort" not in plan, plan  # neither a sort of the range nor of each instant's rows


def test_refreshing_statistics_changes_nothing_stored(store) -> None:  # type: ignore[no-untyped-def]
    store.refresh_statistics()  # an empty store
    _people(store, 2)
    store.refresh_statistics()
    assert len(store.list_reminders("pending", None, 0, 10)) == 2


def _eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_postgresql_refreshes_only_the_tables_its_writes_outran(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        _people(store, 1200, due=NOW - timedelta(days=1))
        first = store.refresh_statistics()  # never analysed
        assert {"people", "cases", "reminders", "contact_points"} <= set(first)
        # The server counts a write once the writer's connection reports it (within seconds),
        # so a table may be analysed once more for writes made before its analysis; then
        # nothing is, until more is written.
        assert _eventually(lambda: store.refresh_statistics() == [])
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE reminders SET tries = tries + 1")
        assert _eventually(lambda: "reminders" in store.refresh_statistics())
        assert _eventually(lambda: store.refresh_statistics() == [])
    finally:
        store.close()
