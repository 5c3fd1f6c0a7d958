"""Rows checked, in this process or, for a big file, in worker processes while this one reads
the file and writes the store (checking a row, its phone numbers above all, costs more than
reading and storing it). Results come back in the file's order, a bounded number of chunks
ahead, so memory stays flat whatever the file's size."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from dispatcher.intake.rows import GoodRow, RowError, parse_row

CHUNK_ROWS = 1000
Checked = tuple[int, GoodRow | list[RowError]]


@dataclass(frozen=True)
class RowRules:
    """What a row is checked against (sent to each worker)."""

    schedules: tuple[str, ...] | None
    default_schedule: str | None
    default_locale: str
    default_region: str | None

    def check(self, number: int, row: dict[str, Any] | RowError) -> Checked:
        """One row of a file (or the error that it could not be read) as a good row or its
        errors."""
        if isinstance(row, RowError):
            return number, [row]
        return number, parse_row(
            number,
            row,
            schedules=self.schedules,
            default_schedule=self.default_schedule,
            default_locale=self.default_locale,
            default_region=self.default_region,
        )


def _check_chunk(rules: RowRules, chunk: list[tuple[int, Any]]) -> list[Checked]:
    return [rules.check(number, row) for number, row in chunk]


def checked_rows(
    rows: Iterable[tuple[int, dict[str, Any] | RowError]], rules: RowRules, jobs: int = 1
) -> Iterator[Checked]:
    """``rows`` checked by ``rules``, in order; by ``jobs`` worker processes when above 1."""
    if jobs <= 1:
        for number, row in rows:
            yield rules.check(number, row)
        return
    source = iter(rows)
    # Spawned, not forked: the parent has threads (the progress display, the store's pool).
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[list[Checked]]] = deque()
        while chunk := list(islice(source, CHUNK_ROWS)):
            pending.append(pool.submit(_check_chunk, rules, chunk))
            if len(pending) > 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
