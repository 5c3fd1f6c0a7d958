"""Moving a whole store to another database (SQLite → PostgreSQL, or back), checked.

Every table is copied in primary-key order from one consistent read of the source into one
transaction on the target, so the target has all of it or none. Each table gets a checksum
over a canonical rendering of its rows, computed on both sides: equal checksums and counts
are the proof that nothing was lost or changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Integer, Table, func, insert, select, text

from dispatcher.store import open_store, schema
from dispatcher.store.sql import SqlStore

# Parents before children, so foreign keys hold at every insert.
TABLES: tuple[Table, ...] = (
    schema.people,
    schema.contact_points,
    schema.opt_outs,
    schema.consents,
    schema.wishes,
    schema.cases,
    schema.case_events,
    schema.reminders,
    schema.attempts,
    schema.decisions,
    schema.arrangements,
    schema.instalments,
    schema.payments,
)
CHUNK = 5000


@dataclass(frozen=True)
class TableReport:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def table_checksum(conn: Connection, table: Table) -> tuple[int, str]:
    """(rows, sha256) of ``table`` read in primary-key order."""
    digest = hashlib.sha256()
    rows = 0
    order = list(table.primary_key.columns)
    for row in conn.execution_options(yield_per=CHUNK).execute(select(table).order_by(*order)):
        digest.update("\x1f".join(_canonical(v) for v in row).encode() + b"\x1e")
        rows += 1
    return rows, digest.hexdigest()[:16]


class Mismatch(Exception):
    def __init__(self, reports: list[TableReport]) -> None:
        super().__init__("checksums differ")
        self.reports = reports


def _reset_sequences(conn: Connection, table: Table) -> None:
    # Ids were copied as they are; PostgreSQL's sequences must continue after them.
    for column in table.primary_key.columns:
        if isinstance(column.type, Integer):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                )
            )


def transfer(
    source_url: str, target_url: str, *, progress: Callable[[str, int], None] | None = None
) -> list[TableReport]:
    """Copy every table of the store at ``source_url`` into the empty store at
    ``target_url``; return a checksum report per table."""
    source = open_store(source_url)
    target = open_store(target_url)
    if not isinstance(source, SqlStore) or not isinstance(target, SqlStore):
        raise ValueError("both stores must be SQL stores")
    try:
        with target.engine.connect() as check:
            if check.execute(select(func.count()).select_from(schema.people)).scalar_one():
                raise ValueError("the target store is not empty; migrate into an empty database")
        try:
            return _copy(source, target, progress)
        except Mismatch as exc:  # the target transaction was rolled back
            return exc.reports
    finally:
        source.close()
        target.close()


def _copy(
    source: SqlStore, target: SqlStore, progress: Callable[[str, int], None] | None
) -> list[TableReport]:
    reports: list[TableReport] = []
    with source.engine.connect() as read, target.engine.begin() as write:
        # One read transaction: a consistent snapshot even if something else writes.
        with read.begin():
            for table in TABLES:
                _copy_table(read, write, table, progress)
                if write.dialect.name == "postgresql":
                    _reset_sequences(write, table)
            for table in TABLES:
                source_rows, source_sum = table_checksum(read, table)
                target_rows, target_sum = table_checksum(write, table)
                reports.append(
                    TableReport(table.name, source_rows, target_rows, source_sum, target_sum)
                )
        if not all(r.ok for r in reports):
            raise Mismatch(reports)
    return reports


def _copy_table(
    read: Connection,
    write: Connection,
    table: Table,
    progress: Callable[[str, int], None] | None,
) -> None:
    order = list(table.primary_key.columns)
    result = read.execution_options(yield_per=CHUNK).execute(select(table).order_by(*order))
    for rows in result.mappings().partitions(CHUNK):
        write.execute(insert(table), [dict(row) for row in rows])
        if progress:
            progress(table.name, len(rows))
