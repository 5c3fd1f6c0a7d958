"""Intake into the store: people with their contact points, and their cases, inserted or
updated in one transaction per call.

Each table is written with multi-row ``INSERT … ON CONFLICT … DO UPDATE`` statements (SQLite
and PostgreSQL share the syntax), handed to the driver as they are: an import's batch of a
few thousand rows is a handful of statements, so the writer is held for tens of milliseconds
and the daemon's claims interleave between batches.

A case belongs to one person for good: a case given with another person than its own is
refused (nothing of the call is written and the refused ids are returned), and the update
itself only touches a case of the same person, so no caller can move or overwrite one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import BindParameter, Column, Connection, Table, bindparam, select

from dispatcher.model import ContactKind
from dispatcher.store import consents, events, wishes
from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, PersonIn
from dispatcher.store.bulk import rows_in
from dispatcher.store.planning import look_again_at_people, next_plan_of_new_case
from dispatcher.store.rows import cases_by_id, chunks

# What a re-import may change. A person's facts are replaced; a contact point keeps its status
# (an opt-out or a dead number survives a re-import) and takes the new priority and line (a
# row that gives no line makes it not known: never a looser reading than before); a case's debt
# facts are replaced, its state changes only through events.
PERSON_UPDATES = ("name", "locale", "timezone", "updated_at")
CONTACT_UPDATES = ("priority", "line")
CASE_UPDATES = ("amount", "currency", "due_date", "schedule", "updated_at")
# A new due date or schedule moves the case's steps: the next planning looks at it again (a
# row given as paid or closed leaves the case's planning as it was: state changes by events),
# from the update on (as ``planning.looked_at_again``: ``excluded.updated_at`` is its now),
# so steps that now fall inside the window already planned are planned too.
_MOVED = "cases.due_date <> excluded.due_date OR cases.schedule <> excluded.schedule"
CASE_REPLANS = (
    f"next_plan_at = CASE WHEN {_MOVED}"
    " THEN COALESCE(excluded.next_plan_at, cases.next_plan_at) ELSE cases.next_plan_at END",
    f"planned_through = CASE WHEN ({_MOVED}) AND cases.planned_through > excluded.updated_at"
    " THEN excluded.updated_at ELSE cases.planned_through END",
)
# The reads of an import's checks, compiled once (``bulk.rows_in``): a case's owner, a
# person's zone on file, and the phones and addresses a zone is inferred from.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
OWNERS = select(t.cases.c.id, t.cases.c.person_id).where(t.cases.c.id.in_(_IDS))
ZONES = select(t.people.c.id, t.people.c.timezone).where(t.people.c.id.in_(_IDS))
PLACES = select(t.contact_points.c.person_id, t.contact_points.c.value).where(
    t.contact_points.c.person_id.in_(_IDS),
    t.contact_points.c.kind.in_((ContactKind.PHONE.value, ContactKind.POSTAL.value)),
)
# Rows per statement: ten columns of 500 rows stay well inside every database's limit on
# bound values (SQLite 32,766, PostgreSQL 65,535).
ROWS_PER = 500


def upsert(
    conn: Connection,
    people: Sequence[PersonIn],
    cases: Sequence[CaseIn],
    now: datetime,
) -> list[str]:
    """Write ``people`` and ``cases``; return the ids of cases that belong to another person
    than the one given (then nothing is written: the caller leaves them out and calls again)."""
    refused = cases_of_others(conn, cases)
    if refused:
        return refused
    upsert_people(conn, people, now)
    upsert_cases(conn, cases, now)
    imported_moratoria(conn, [c for c in cases if c.breathing_space is not None], now)
    return []


def imported_moratoria(conn: Connection, cases: Sequence[CaseIn], now: datetime) -> None:
    """Record each case's ``breathing_space`` as the ``breathing-space`` event does (source
    ``import``), unless the case already has that very moratorium: a file imported again
    records nothing twice."""
    for case in cases:
        space = case.breathing_space
        if space is None or cases_by_id(conn, [case.id])[case.id].breathing_space == space:
            continue
        kind = "breathing-space-crisis" if space.crisis else "breathing-space"
        state = events.state_after(kind, space.until, now)
        events.case_event(
            conn,
            case.id,
            kind,
            state,
            now=now,
            until=space.until,
            source="import",
            detail=None,
            start=space.start,
        )


def cases_of_others(conn: Connection, cases: Sequence[CaseIn]) -> list[str]:
    """The ids of ``cases`` already stored for another person."""
    given = {c.id: c.person_id for c in cases}
    refused: list[str] = []
    # During a bulk load PostgreSQL's statistics lag the table (it was "tiny" when last
    # analysed) and it scans the whole table per lookup; the key's index is always right here.
    postgres = conn.dialect.name == "postgresql"
    if postgres and given:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for cid, owner in rows_in(conn, OWNERS, "ids", list(given)):
        if given[cid] != owner:
            refused.append(cid)
    if postgres and given:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return refused


def people_whose_zone_changes(conn: Connection, people: Sequence[PersonIn]) -> list[str]:
    """The ids of stored ``people`` whose time zone the new rows change: another zone of
    their own, or, without one, a phone number or postal address the zone is inferred from
    that was not on file."""
    given = {p.id: p for p in people}
    changed: list[str] = []
    for chunk in chunks(list(given)):
        stored = dict(rows_in(conn, ZONES, "ids", chunk))
        changed.extend(pid for pid, zone in stored.items() if given[pid].timezone != zone)
        inferred = [
            pid for pid, zone in stored.items() if zone is None and given[pid].timezone is None
        ]
        if not inferred:
            continue
        on_file: dict[str, set[str]] = {pid: set() for pid in inferred}
        for pid, value in rows_in(conn, PLACES, "ids", inferred):
            on_file[pid].add(value)
        changed.extend(
            pid
            for pid in inferred
            if not {*given[pid].phones, *given[pid].addresses} <= on_file[pid]
        )
    return changed


def person_values(person: PersonIn, now: datetime) -> dict[str, Any]:
    """A person's row as written (the one place that builds it)."""
    return {
        "id": person.id,
        "name": person.name,
        "locale": person.locale,
        "timezone": person.timezone,
        "created_at": now,
        "updated_at": now,
    }


def case_values(case: CaseIn, now: datetime) -> dict[str, Any]:
    """A case's row as written (the one place that builds it)."""
    return {
        "id": case.id,
        "person_id": case.person_id,
        "amount": case.amount,
        "currency": case.currency,
        "due_date": case.due_date,
        "state": case.state,
        "paused_until": case.paused_until,
        "schedule": case.schedule,
        "next_plan_at": next_plan_of_new_case(case.state),
        "created_at": now,
        "updated_at": now,
    }


def upsert_people(conn: Connection, people: Sequence[PersonIn], now: datetime) -> None:
    """Insert or update ``people`` and their contact points."""
    # A new time zone moves the instants of the person's steps: plan their cases again.
    look_again_at_people(conn, people_whose_zone_changes(conn, people), now)
    _upsert(conn, t.people, ("id",), PERSON_UPDATES, [person_values(p, now) for p in people])
    points = [
        {
            "person_id": p.id,
            "kind": kind.value,
            "value": value,
            "priority": priority,
            "status": "ok",
            "updated_at": now,
            "line": line,
        }
        for p in people
        for kind, value, priority, line in p.contact_values()
    ]
    _upsert(conn, t.contact_points, ("person_id", "kind", "value"), CONTACT_UPDATES, points)
    consents.imported_consents(conn, [p for p in people if p.consents], now)
    wishes.imported_wishes(conn, [p for p in people if p.wishes is not None], now)


def upsert_cases(conn: Connection, cases: Sequence[CaseIn], now: datetime) -> None:
    """Insert or update ``cases``; an existing case is updated only for its own person."""
    _upsert(
        conn,
        t.cases,
        ("id",),
        CASE_UPDATES,
        [case_values(c, now) for c in cases],
        also=CASE_REPLANS,
        only_if=f"{t.cases.name}.person_id = excluded.person_id",
    )


def _upsert(
    conn: Connection,
    table: Table,
    key: Sequence[str],
    updates: Sequence[str],
    rows: list[dict[str, Any]],
    also: Sequence[str] = (),
    only_if: str | None = None,
) -> None:
    """``rows`` (dicts with the same keys) inserted into ``table``, or the ``updates`` columns
    (and the ``also`` assignments) set where ``key`` exists (and ``only_if`` holds), row after
    row (the last row given for a key wins)."""
    if not rows:
        return
    names = list(rows[0])
    values = [list(row.values()) for row in rows]
    for index, name in enumerate(names):
        convert = _converter(table.c[name], conn)
        if convert is not None:
            for row_values in values:
                row_values[index] = convert(row_values[index])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join([mark] * len(names))})"
    tail = (
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join([f"{name} = excluded.{name}" for name in updates] + list(also))
        + (f" WHERE {only_if}" if only_if else "")
    )
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
    if mark == "%s":
        # psycopg parses a statement's placeholders on every call unless it is short: one
        # short statement, pipelined by the driver for every row.
        conn.exec_driver_sql(head + one + tail, [tuple(row_values) for row_values in values])
        return
    # SQLite: multi-row statements, each row applied in turn (one already written by the same
    # statement is updated, as by a later statement).
    for start in range(0, len(values), ROWS_PER):
        part = values[start : start + ROWS_PER]
        flat = tuple(chain.from_iterable(part))
        conn.exec_driver_sql(head + ", ".join([one] * len(part)) + tail, flat)


def _converter(column: Column[Any], conn: Connection) -> Callable[[Any], Any] | None:
    """The column type's conversion of a Python value for this database (None: as is),
    remembered per value: a batch's instants are mostly the same ``now``, its dates few."""
    process = column.type._cached_bind_processor(conn.dialect)
    if process is None:
        return None
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = done = process(value)
            return done

    return convert
