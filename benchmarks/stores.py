"""Which store a benchmark runs on: SQLite in its run directory, or a fresh schema of its own
on PostgreSQL (``BENCH_STORE=postgresql://…``), created for the run and dropped after it."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

PG_BASE = os.environ.get("DISPATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def bench_store() -> str | None:
    """The PostgreSQL base URL the benchmarks should also (or instead) run on, if any."""
    url = os.environ.get("BENCH_STORE", "").strip()
    return url or None


def kind(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def store_bytes(url: str) -> int:
    """What the store holds on disk: the SQLite file with its write-ahead log, or every
    table of the run's PostgreSQL schema with its indexes and TOAST."""
    if kind(url) == "sqlite":
        path = Path(make_url(url).database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    import psycopg

    query = (
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _schema(base: str, action: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'{action} SCHEMA "{name}"' + (" CASCADE" if action == "DROP" else ""))


@contextmanager
def fresh_store(root: Path, postgres: str | None) -> Iterator[str]:
    """A store URL for one run: ``root``/var/dispatcher.db, or with ``postgres`` (a base URL)
    a new schema on it, dropped afterwards."""
    if not postgres:
        (root / "var").mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{root / 'var' / 'dispatcher.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    _schema(postgres, "CREATE", schema)
    try:
        joiner = "&" if "?" in postgres else "?"
        yield f"{postgres}{joiner}options=-csearch_path%3D{schema}"
    finally:
        _schema(postgres, "DROP", schema)


def point_config_at(config: Path, url: str) -> None:
    """Set ``store =`` in ``config``/dispatcher.toml."""
    path = config / "dispatcher.toml"
    text, found = re.subn(
        r'^store = ".*"$', f'store = "{url}"', path.read_text(encoding="utf-8"), flags=re.M
    )
    if found != 1:
        raise RuntimeError("dispatcher.toml has no store line")
    path.write_text(text, encoding="utf-8")


def seed_planned(
    url: str,
    people: list[PersonIn],
    cases: list[CaseIn],
    reminders: list[NewReminder],
    now: datetime,
) -> None:
    """``people``, ``cases`` and their ``reminders`` into the store at ``url``, the cases
    marked planned far ahead so the daemon's planner adds nothing of its own."""
    store = open_store(url)
    try:
        store.upsert(people, cases, now)
        store.add_reminders(reminders, [(c.id, now + timedelta(days=3650)) for c in cases], now)
        # As the product's import does after a bulk load: these seeders write through the
        # store's API, and without statistics PostgreSQL plans every claim for empty tables.
        store.refresh_statistics()
    finally:
        store.close()
