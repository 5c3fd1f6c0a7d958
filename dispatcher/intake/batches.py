"""Good rows into the store in bounded batches, one transaction each, so an import's memory
stays flat and the daemon's claims interleave between its transactions.

A case given twice in one file keeps its first row (the later ones are rejected, naming it);
a row whose case belongs to another person is rejected and the rest of its batch kept, as is
a row whose Breathing Space cannot be recorded now (``intake.moratoria``).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from dispatcher.intake.moratoria import MoratoriumProblem, moratorium_at
from dispatcher.intake.rows import GoodRow, RowError
from dispatcher.model import Case
from dispatcher.policy.zones import zones_of
from dispatcher.store import Store
from dispatcher.store.api import PersonIn

BATCH_ROWS = 2000


def store_rows(
    store: Store, rows: Sequence[GoodRow], now: datetime, *, fallback_zone: str
) -> list[RowError]:
    """Store ``rows`` in one transaction; return an error for each row whose case belongs
    to another person or whose moratorium cannot be recorded (its dates read in the person's
    zone, else ``fallback_zone``): those rows are left out, every other row is stored."""
    errors, keep = with_moratoria(rows, now, fallback_zone, store.get_case)
    while keep:
        people: dict[str, PersonIn] = {}
        for row in keep:
            people[row.person.id] = row.person
        refused = set(store.upsert(list(people.values()), [row.case for row in keep], now))
        if not refused:
            break
        errors.extend(
            RowError(row.row, "case_id", f"case {row.case.id!r} belongs to another person")
            for row in keep
            if row.case.id in refused
        )
        keep = [row for row in keep if row.case.id not in refused]
    return errors


def with_moratoria(
    rows: Sequence[GoodRow],
    now: datetime,
    fallback_zone: str,
    on_file: Callable[[str], Case | None],
) -> tuple[list[RowError], list[GoodRow]]:
    """Each row's moratorium as it is to be recorded on its case at ``now`` (one already
    ended: nothing), given the case ``on_file`` finds by id; and an error for each row whose
    moratorium cannot be (that row left out)."""
    errors: list[RowError] = []
    kept: list[GoodRow] = []
    for row in rows:
        if row.moratorium is None:
            kept.append(row)
            continue
        person = row.person
        zone = zones_of(person.timezone, person.phones, person.addresses, fallback_zone).at_zone
        stored = on_file(row.case.id)
        try:
            space = moratorium_at(
                row.moratorium, zone, now, stored.breathing_space if stored else None
            )
        except MoratoriumProblem as exc:
            errors.append(RowError(row.row, exc.column, exc.message))
            continue
        kept.append(replace(row, case=replace(row.case, breathing_space=space)))
    return errors, kept


class _SeenCases:
    """The case ids of a file already read, with their row numbers, kept in a temporary
    SQLite file rather than in memory (a file may hold millions)."""

    def __init__(self) -> None:
        # Open for the importer's life, closed (and so removed) by close().
        self._file = tempfile.NamedTemporaryFile(prefix="dispatcher-import-", suffix=".db")  # noqa: SIM115
        self._db = sqlite3.connect(self._file.name)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, row INTEGER NOT NULL)")

    def earlier(self, ids: list[str]) -> dict[str, int]:
        """The rows of ``ids`` already seen (among the earlier batches)."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, row FROM seen WHERE id IN ({marks})"  # noqa: S608 (marks only)
            found.update(self._db.execute(query, chunk))
        return found

    def add(self, rows: Iterable[tuple[str, int]]) -> None:
        self._db.executemany("INSERT INTO seen (id, row) VALUES (?, ?)", rows)

    def close(self) -> None:
        self._db.close()
        self._file.close()


class Importer:
    """Checked rows in, good ones stored every ``size`` rows; ``on_error`` hears of every
    rejected row as soon as it is known."""

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], datetime],
        on_error: Callable[[RowError], None],
        fallback_zone: str,
        size: int = BATCH_ROWS,
    ) -> None:
        self.store = store
        self.now = now
        self.fallback_zone = fallback_zone
        self.on_error = on_error
        self.size = size
        self.kept = 0
        self.rejected = 0
        self._last_rejected: int | None = None
        self._batch: dict[str, GoodRow] = {}
        self._seen = _SeenCases()

    def add(self, number: int, parsed: GoodRow | list[RowError]) -> None:
        """One checked row of the file: kept for the next batch, or rejected."""
        if isinstance(parsed, list):
            self._reject(parsed)
            return
        first = self._batch.get(parsed.case.id)
        if first is not None:
            self._reject([_twice(number, first.row)])
            return
        self._batch[parsed.case.id] = parsed
        if len(self._batch) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Store the rows read since the last batch."""
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        earlier = self._seen.earlier(list(batch))
        self._reject([_twice(batch.pop(cid).row, row) for cid, row in earlier.items()])
        self._seen.add((cid, good.row) for cid, good in batch.items())
        refused = store_rows(
            self.store, list(batch.values()), self.now(), fallback_zone=self.fallback_zone
        )
        self._reject(refused)
        self.kept += len(batch) - len(refused)

    def close(self) -> None:
        """Store what is left and let go of the ids seen."""
        try:
            self.flush()
        finally:
            self._seen.close()

    def _reject(self, errors: list[RowError]) -> None:
        for error in errors:
            # A row's errors come together: count the row once.
            if error.row != self._last_rejected:
                self.rejected += 1
                self._last_rejected = error.row
            self.on_error(error)


def _twice(number: int, first: int) -> RowError:
    return RowError(number, "case_id", f"case already given in row {first}")
