"""Calls' scripts in the store: taken once whichever node asks first, never read past their
expiry, removed by the next call placed once expired, and a version-6 store given the table."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from dispatcher.store import open_store, schema
from dispatcher.store.api import Store
from dispatcher.store.scripts_api import CallScript
from tests.store import test_store
from tests.store.test_store import NOW

# The store suite's fixture: a real SQLite file, and PostgreSQL when it answers.
store = test_store.store

SCRIPT = CallScript(
    person="<Response><Say>Hello</Say></Response>",
    machine="<Response/>",
    expires_at=NOW + timedelta(minutes=10),
)


def _kept(store: Store) -> int:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(schema.call_scripts)).scalar())


def test_a_script_is_taken_once_whichever_node_asks(store: Store) -> None:
    store.keep_call_script("A1", SCRIPT, NOW)
    other = open_store(str(store.engine.url.render_as_string(hide_password=False)))  # type: ignore[attr-defined]
    try:
        assert other.take_call_script("A1", NOW) == SCRIPT
        assert store.take_call_script("A1", NOW) is None, "once"
    finally:
        other.close()
    assert _kept(store) == 0


def test_an_expired_script_is_never_read_and_the_next_call_removes_it(store: Store) -> None:
    store.keep_call_script("A1", SCRIPT, NOW)
    store.keep_call_script("A2", SCRIPT, NOW)
    after = SCRIPT.expires_at + timedelta(seconds=1)
    assert store.take_call_script("A1", after) is None
    later = CallScript(SCRIPT.person, SCRIPT.machine, after + timedelta(minutes=10))
    store.keep_call_script("A3", later, after)
    assert _kept(store) == 1, "A2 expired: removed when A3's call was placed"
    assert store.forget_call_script("A3") and not store.forget_call_script("A3")
    assert _kept(store) == 0


def test_a_version_6_store_gets_the_scripts_table(store: Store) -> None:
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("DROP TABLE call_scripts")
        conn.exec_driver_sql("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    store.engine.dispose()  # type: ignore[attr-defined]
    assert store.migrate() == schema.SCHEMA_VERSION
    store.keep_call_script("A1", SCRIPT, NOW)
    assert store.take_call_script("A1", NOW) == SCRIPT
