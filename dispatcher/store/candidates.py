"""Which due reminders a claim takes: the oldest pending ones, the first of each person with
nothing in flight (at most one contact in flight per person).

The in-flight check is a second query over the people a page of candidates names, not an
anti-join in the candidates query: with statistics taken before the claims in flight (a
table's statistics lag its writes), PostgreSQL plans that anti-join as a nested loop over
every claimed row for each candidate (about 200 ms with 1,000 claimed at a million rows).
Both queries here have one plan whatever the statistics say: a range of the (state, due_at)
index, and a probe of the (person_id, state) index per person — at worst one pass over the
claimed rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select
from sqlalchemy.sql import Select

from dispatcher.model import Reminder, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.bulk import rows_in
from dispatcher.store.dialect import Dialect
from dispatcher.store.rows import REMINDER_COLUMNS, reminder_from_row

SCAN_FACTOR = 4  # candidate rows read per page per reminder wanted, for people with several due


def candidates_query(
    now: datetime,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> Select[Any]:
    """A page of due pending reminders, oldest first, read along the (state, due_at) index:
    those after ``after`` (the last page's last (due_at, id)). People with a reminder in
    flight are left in: see ``busy_people``."""
    r = t.reminders.c
    query = select(*REMINDER_COLUMNS).where(r.state == ReminderState.PENDING.value, r.due_at <= now)
    if after is not None:
        query = query.where(or_(r.due_at > after[0], and_(r.due_at == after[0], r.id > after[1])))
    return query.order_by(r.due_at, r.id).limit(limit * SCAN_FACTOR)


def busy_query(person_ids: Sequence[str]) -> Select[Any]:
    """Those of ``person_ids`` with a reminder in flight (claimed, not yet recorded)."""
    r = t.reminders.c
    return select(r.person_id).where(
        r.person_id.in_(person_ids), r.state == ReminderState.CLAIMED.value
    )


BUSY = busy_query(bindparam("ids", expanding=True))  # type: ignore[arg-type]


def busy_people(conn: Connection, person_ids: Collection[str]) -> set[str]:
    return {row[0] for row in rows_in(conn, BUSY, "ids", sorted(person_ids))}


def due_reminders(
    conn: Connection,
    dialect: Dialect,
    now: datetime,
    limit: int,
) -> list[Reminder]:
    """The first due reminder of each of the first ``limit`` people (by their oldest due
    reminder) with nothing in flight. The rest of a
    person's due reminders wait for a later batch, after this one is recorded. Reads a page
    of candidates at a time (locked as the dialect needs) until ``limit`` people or the due
    reminders run out."""
    due: dict[str, Reminder] = {}
    after: tuple[datetime, int] | None = None
    page_size = limit * SCAN_FACTOR
    while True:
        query = dialect.lock_candidates(candidates_query(now, limit, after))
        result = conn.execute(query)
        read = 0
        # Rows are judged a slice at a time, so SQLite steps no further along the index
        # than the people it needs; the busy check costs one query per slice.
        while rows := result.fetchmany(limit):
            read += len(rows)
            fresh = {row.person_id for row in rows if row.person_id not in due}
            busy = busy_people(conn, fresh)
            for row in rows:
                if row.person_id not in due and row.person_id not in busy:
                    due[row.person_id] = reminder_from_row(row)
                    if len(due) == limit:
                        result.close()
                        return list(due.values())
            after = (rows[-1].due_at, rows[-1].id)
        if read < page_size:
            return list(due.values())
