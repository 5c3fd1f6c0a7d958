"""The SQLite store: one file, WAL mode, one writer at a time.

Write transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before the claim
query reads candidates: a second process (a CLI event, another daemon by mistake) waits for
the lock instead of reading reminders that are about to be claimed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from dispatcher.privacy import create_private
from dispatcher.store.checkpoint import Checkpointer
from dispatcher.store.dialect import Dialect
from dispatcher.store.sql import SqlStore

BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger("dispatcher.store")
# Each connection's page cache, grown only as pages are read. SQLite's default (2 MiB) holds
# little of a million reminders' indexes: each claim's writes then read back from the OS most
# of the index pages they touch (a third of a 500-reminder claim's time at 1M rows).
CACHE_KIB = 32_768


class SqliteDialect(Dialect):
    """One writer at a time: the store's write transactions begin ``BEGIN IMMEDIATE``
    (``SqliteStore._write``), which already excludes the others, so claims and migrations
    lock nothing more."""

    def insert_ignore(self, table: Table) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing()


class SqliteStore(SqlStore):
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # SQLite creates the file 0644 under the usual umask, and its -wal and -shm files
            # with the database's mode: created 0600 first, all three hold personal data.
            if create_private(database):
                log.warning(
                    "the store was readable by every user: access for others removed",
                    extra={"fields": {"path": database}},
                )
            for sibling in ("-wal", "-shm"):
                if os.path.exists(database + sibling):
                    create_private(database + sibling)
        database = database or ""
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        on_file = bool(database) and database != ":memory:"
        checkpointer = Checkpointer(database, BUSY_TIMEOUT_MS / 1000) if on_file else None
        self._checkpointer = checkpointer

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's begin events, not the driver, decide how transactions start.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if checkpointer is not None:
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("dispatcher_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        super().__init__(engine, SqliteDialect())
        self.path = database

    def close(self) -> None:
        super().close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(dispatcher_write=True)
            with conn.begin():
                yield conn

    def backup(self, destination: Path) -> int:
        """Copy the live database to ``destination`` with SQLite's online backup API (safe
        while the daemon writes), atomically: a temp file checked with integrity_check, then
        renamed. Returns the size in bytes."""
        if not self.path or self.path == ":memory:":
            raise ValueError("an in-memory store has nothing to back up")
        destination = Path(destination)
        if destination.exists() and destination.samefile(self.path):
            raise ValueError(f"{destination} is the store itself")
        temp = destination.with_name(f".{destination.name}.partial")
        temp.unlink(missing_ok=True)
        create_private(temp)  # a copy of the store: 0600 like it, kept by the rename
        source = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        target = sqlite3.connect(temp)
        try:
            source.backup(target, pages=1024)
            # A copy in rollback-journal mode is one self-contained file: no log beside it to
            # lose in a copy, nor an old one to be replayed onto it.
            target.execute("PRAGMA journal_mode=DELETE").fetchall()
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise RuntimeError(f"backup failed its integrity check: {check}")
        finally:
            target.close()
            source.close()
        # The log and index of a file formerly at ``destination`` belong to it, not the copy.
        for sibling in ("-wal", "-shm", "-journal"):
            Path(f"{destination}{sibling}").unlink(missing_ok=True)
        os.replace(temp, destination)
        return destination.stat().st_size
