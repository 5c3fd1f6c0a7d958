"""The PostgreSQL store: the same API, shared by any number of daemons.

Claims stay exclusive per person across nodes: after reading candidates, a claim locks the
people's rows with ``FOR UPDATE SKIP LOCKED`` (a person another node is claiming for is
skipped, never waited on, so nodes cannot deadlock), then reads those people's candidates
again — a claim another node committed meanwhile is now visible — and decides, reserves and
records in the same transaction, under the person lock. So two nodes can never both send the
8th call of a 7-in-7 window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, create_engine, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select

from dispatcher.model import Reminder
from dispatcher.store import schema as t
from dispatcher.store import tallies
from dispatcher.store.api import StatusReport
from dispatcher.store.candidates import due_reminders
from dispatcher.store.dialect import Dialect
from dispatcher.store.sql import SqlStore

# pg_advisory_xact_lock key for schema changes: daemons starting together migrate one by one.
MIGRATION_LOCK = 0x64697370  # "disp"


def engine_url(url: str) -> Any:
    """``postgresql://…`` → the psycopg 3 driver, unless the URL names a driver itself."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def unreachable_reason(url: str, timeout: int = 3) -> str | None:
    """None when a PostgreSQL answers at ``url``, else why not (for skips and reports)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (the [postgres] extra)"
    try:
        with psycopg.connect(url, connect_timeout=timeout):
            return None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"no PostgreSQL at {make_url(url).render_as_string(hide_password=True)}: {first}"


class PostgresDialect(Dialect):
    """A database many daemons share: claims lock their candidates and people (see above),
    schema changes take an advisory lock."""

    def insert_ignore(self, table: Table) -> Any:
        return pg_insert(table).on_conflict_do_nothing()

    def insert_or_update(
        self, conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any]
    ) -> None:
        # Two nodes finding no row both insert: the second one updates instead of failing.
        statement = pg_insert(table).values(**key, **values)
        conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))

    def migration_lock(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})

    def commit_without_flush(self, conn: Connection) -> None:
        # A later synchronous commit (every confirmation is one) flushes the log up to
        # itself, this transaction included: only what no confirmation has followed yet can
        # be lost, within wal_writer_delay (3 × 200 ms at most by default).
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def lock_candidates(self, query: Select[Any]) -> Select[Any]:
        # Nodes skip each other's candidate rows instead of all reading the same oldest ones.
        return query.with_for_update(skip_locked=True, of=t.reminders)

    def take_people(self, conn: Connection, due: list[Reminder], now: datetime) -> list[Reminder]:
        if not due:
            return due
        wanted = sorted({r.person_id for r in due})
        locked = list(
            conn.execute(
                select(t.people.c.id)
                .where(t.people.c.id.in_(wanted))
                .order_by(t.people.c.id)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not locked:
            return []
        return due_reminders(conn, self, now, len(locked), among=locked)


class PostgresStore(SqlStore):
    concurrent_writers = True

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        engine = create_engine(
            engine_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        super().__init__(engine, PostgresDialect())

    def status(self, now: datetime) -> StatusReport:
        # Fold the counts' appended rows first, in a transaction of its own, so a read sums
        # the rows of the last few seconds' statements, not of every statement ever.
        with self.engine.begin() as conn:
            tallies.fold(conn)
        return super().status(now)
