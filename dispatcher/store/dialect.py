"""What differs between SQL databases, for the store's functions that need it.

The defaults suit a database with one writer at a time (SQLite): its write transaction already
excludes every other writer, so claims lock nothing of their own and migrations need no lock.
A shared database (PostgreSQL) overrides them.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, and_, insert, update
from sqlalchemy.sql import Select

from dispatcher.model import Reminder


class Dialect(abc.ABC):
    """The few statements a store writes differently on one database."""

    @abc.abstractmethod
    def insert_ignore(self, table: Table) -> Any:
        """An insert into ``table`` that skips rows whose key already exists."""

    def insert_or_update(
        self, conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """Set ``values`` on the row of ``table`` whose key columns hold ``key``, inserting
        the row when there is none. With one writer at a time an update, then an insert when
        it found nothing, cannot race; a shared store does both in one statement."""
        where = and_(*(table.c[name] == value for name, value in key.items()))
        if not conn.execute(update(table).where(where).values(**values)).rowcount:
            conn.execute(insert(table).values(**key, **values))

    def lock_candidates(self, query: Select[Any]) -> Select[Any]:
        """The claim candidates ``query``, locked as this database needs."""
        return query

    def take_people(self, conn: Connection, due: list[Reminder], now: datetime) -> list[Reminder]:
        """Make the claim of ``due`` exclusive per person. On SQLite the write transaction
        already excludes every other writer; a shared store locks the people here."""
        return due

    def commit_without_flush(self, conn: Connection) -> None:  # noqa: B027 (SQLite: see below)
        """This transaction's commit need not wait for its write-ahead log to reach the disk:
        losing it in a database crash contacts nobody twice and forgets no opt-out (the
        callers say why). On SQLite (``synchronous=NORMAL`` in WAL mode) no commit waits for
        the disk already."""

    def migration_lock(self, conn: Connection) -> None:  # noqa: B027 (one writer: no lock)
        """Serialise schema changes between processes that start together."""
