"""The PostgreSQL store: the same API, shared by any number of daemons.

Claims stay exclusive per person across nodes: after reading candidates, a claim locks the
people's rows with ``FOR UPDATE SKIP LOCKED`` (a person another node is claiming for is
skipped, never waited on, so nodes cannot deadlock), then looks again for a claim of theirs
another node committed meanwhile (now visible), and decides, reserves and records in the same
transaction, under the person lock. So two nodes can never both send the
8th call of a 7-in-7 window.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import weakref
from datetime import datetime
from typing import Any

from psycopg import pq
from sqlalchemy import Connection, Table, create_engine, event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select

from dispatcher.model import Reminder
from dispatcher.store import migrations, tallies
from dispatcher.store import schema as t
from dispatcher.store.api import StatusReport
from dispatcher.store.candidates import busy_people
from dispatcher.store.dialect import Dialect
from dispatcher.store.sql import SqlStore

# The tables claims and planning read, whose statistics ``refresh_statistics`` updates.
ANALYSED = (
    t.reminders,
    t.cases,
    t.people,
    t.contact_points,
    t.attempts,
    t.opt_outs,
    t.consents,
    t.wishes,
)
# Rows changed since a table's last analysis below which ``refresh_statistics`` leaves it.
STALE_ROWS = 1000
# Each table of the store's schema, and whether its statistics are stale (see there).
STALENESS = (
    "SELECT c.relname, (c.reltuples < 0 AND pg_relation_size(c.oid) > 0)"
    " OR coalesce(s.n_mod_since_analyze >= greatest(%(least)s, s.n_live_tup / 5), false)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
)
# pg_advisory_xact_lock key for schema changes: daemons starting together migrate one by one.
MIGRATION_LOCK = 0x64697370  # "disp"
log = logging.getLogger("dispatcher.store")

# How a connection notices a server that went away, unless the store URL says otherwise
# (libpq's own parameters, e.g. ``?connect_timeout=10&tcp_user_timeout=30000``): a connect
# gives up after 5 s; an idle connection is probed after 10 s and dropped after 3 unanswered
# probes; data the server does not acknowledge for 15 s breaks the connection.
CONNECTION_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
}
# A statement runs at most this long (ms) on the server (``?statement_timeout=`` in the URL;
# 0 for none). Schema changes are exempt (``migrate``).
STATEMENT_TIMEOUT_MS = 60_000
# A connection held by one store call this long past the statement timeout (seconds) is cut
# (its socket shut down): the server never answered, e.g. behind a proxy or a partition that
# acknowledges packets but forwards nothing, which no server-side timeout ever ends.
CUT_AFTER_STATEMENT = 10.0


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
        # The candidates' own rows are locked already (``lock_candidates``), so they are
        # still pending and due; what another node may have committed before this node held
        # the people is a claim of another of their reminders: look for that once more. Not
        # a fresh read of the people's candidates: under a generic plan, or statistics
        # taken before a big import, PostgreSQL ran that read along the due index, over
        # every due row (seconds at 100,000 cases), instead of by person.
        held = set(locked)
        mine = [r for r in due if r.person_id in held]
        busy = busy_people(conn, held)
        return [r for r in mine if r.person_id not in busy]


def connection_settings(url: Any) -> tuple[Any, dict[str, str], int]:
    """``url`` without the store's own ``statement_timeout``, the libpq settings the URL does
    not set itself (``CONNECTION_DEFAULTS``), and the statement timeout in ms."""
    query = dict(url.query)
    timeout = int(query.pop("statement_timeout", STATEMENT_TIMEOUT_MS))
    settings = {k: v for k, v in CONNECTION_DEFAULTS.items() if k not in query}
    options = str(query.get("options", ""))
    if timeout and "statement_timeout" not in options:
        settings["options"] = f"{options} -c statement_timeout={timeout}".strip()
    return url.set(query=query), settings, timeout


class ConnectionCutter:
    """Cuts a connection that has waited on the server longer than ``limit`` seconds (see
    ``CUT_AFTER_STATEMENT``): each connection is looked at twice a second, on a thread of
    its own, and one found busy (a statement sent, no answer yet; a pre-ping included) at
    every look for that long has its socket shut down. The call on it then fails as a lost
    connection, and the pool replaces it."""

    def __init__(self, engine: Any, limit: float) -> None:
        self.limit = limit
        self.paused = False  # during a schema change, which may rightly take long
        self._connections: dict[int, tuple[weakref.ref[Any], float | None]] = {}
        self._stop = threading.Event()
        event.listen(engine, "connect", self._connected)
        self._thread = threading.Thread(target=self._watch, name="store-cutter", daemon=True)
        self._thread.start()

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self._connections[id(dbapi_connection)] = (weakref.ref(dbapi_connection), None)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            for key, (ref, busy_since) in list(self._connections.items()):
                connection = ref()
                if connection is None or connection.closed:
                    self._connections.pop(key, None)
                    continue
                if self.paused or not _busy(connection):
                    self._connections[key] = (ref, None)
                elif busy_since is None:
                    self._connections[key] = (ref, now)
                elif now - busy_since > self.limit:
                    self._connections.pop(key, None)
                    cut(connection)
                    log.warning(
                        "store connection cut: no answer from the server",
                        extra={"fields": {"waited_s": round(now - busy_since, 1)}},
                    )

    def stop(self) -> None:
        self._stop.set()


def _busy(connection: Any) -> bool:
    """Whether ``connection`` waits on the server (a statement sent, its answer not in)."""
    try:
        return bool(connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE)
    except Exception:  # closed meanwhile
        return False


def cut(connection: Any) -> None:
    """Shut ``connection``'s socket down: a call blocked on it fails at once."""
    try:
        duplicate = os.dup(connection.fileno())
    except (OSError, ValueError, AttributeError):  # already closed
        return
    with socket.socket(fileno=duplicate) as sock, contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class PostgresStore(SqlStore):
    concurrent_writers = True

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        parsed, settings, timeout = connection_settings(engine_url(url))
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,  # a connection the outage broke is replaced, not handed out
            connect_args=settings,
        )
        super().__init__(engine, PostgresDialect())
        self._cutter = ConnectionCutter(engine, timeout / 1000 + CUT_AFTER_STATEMENT)
        if not timeout:
            self._cutter.paused = True

    def migrate(self) -> int:
        was, self._cutter.paused = self._cutter.paused, True
        try:
            with self._write() as conn:
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                return migrations.migrate(conn, self.dialect)
        finally:
            self._cutter.paused = was

    def close(self) -> None:
        self._cutter.stop()
        super().close()

    def refresh_statistics(self) -> list[str]:
        # Autovacuum analyses a table only a while after it changed, and not at all where it
        # is off: until then a claim after a big import is planned for the empty tables of
        # before it (a sort of every due reminder per claim at a million cases). Analysed
        # again: a table with rows never analysed, and one changed by a fifth of its rows (at
        # least ``STALE_ROWS``) since it was (the counts reach the server within seconds of
        # each write). ANALYZE takes a lock that no read or write waits on; its statistics
        # land on commit.
        with self.engine.begin() as conn:
            rows = conn.exec_driver_sql(STALENESS, {"least": STALE_ROWS}).all()
            stale = {name for name, is_stale in rows if is_stale}
            names = [table.name for table in ANALYSED if table.name in stale]
            for name in names:
                conn.exec_driver_sql(f"ANALYZE {name}")
        return names

    def status(self, now: datetime) -> StatusReport:
        # Fold the counts' appended rows first, in a transaction of its own, so a read sums
        # the rows of the last few seconds' statements, not of every statement ever.
        with self.engine.begin() as conn:
            tallies.fold(conn)
        return super().status(now)
