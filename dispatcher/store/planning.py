"""New reminders: the planner's pages (the cases whose next step falls within the horizon,
read by key in the order of ``next_plan_at``, planned and written in one transaction), the
reminders planned for them, what makes the planner look at a case again, the fingerprints
of the schedules the cases are planned with, and one ad-hoc reminder at a time."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)

from dispatcher.model import CaseState, ContactKind, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import (
    NewReminder,
    PlanCursor,
    PlanFn,
    PlannedPage,
    PlannedReminder,
    PlanningCase,
    Replan,
)
from dispatcher.store.dialect import Dialect
from dispatcher.store.rows import case_from_row, chunks

# Cases in these states have nothing to plan: their next_plan_at is NULL.
FINISHED = (CaseState.PAID.value, CaseState.CLOSED.value)
_FINGERPRINTS = "planned_schedules"  # the meta row holding them


def plan_cases(
    conn: Connection,
    dialect: Dialect,
    through: datetime,
    after: PlanCursor | None,
    limit: int,
    plan: PlanFn,
    now: datetime,
) -> PlannedPage:
    c = t.cases.c
    query = (
        select(t.cases, t.people.c.timezone)
        .join(t.people, t.people.c.id == c.person_id)
        .where(c.next_plan_at <= through)
        .order_by(c.next_plan_at, c.id)
        .limit(limit)
        # Another node planning the same cases, or an event changing one, is skipped, not
        # waited on (PostgreSQL; SQLite's write transaction already excludes them).
        .with_for_update(of=t.cases, skip_locked=True)
    )
    if after is not None:
        at = literal(after.next_plan_at, t.UTCDateTime)
        query = query.where(tuple_(c.next_plan_at, c.id) > tuple_(at, literal(after.case_id)))
    rows = list(conn.execute(query))
    places = zone_evidence(conn, [row.person_id for row in rows if not row.timezone])
    reminders: list[NewReminder] = []
    marks: list[dict[str, Any]] = []
    for row in rows:
        phones, addresses = places.get(row.person_id, ((), ()))
        item = PlanningCase(
            case_from_row(row), row.timezone, row.planned_through, phones, addresses
        )
        planned = plan(item)
        reminders.extend(planned.reminders)
        marks.append(
            {"cid": row.id, "through": planned.planned_through, "next": planned.next_step_at}
        )
        # Writing the reminders is most of a page's cost: a page of cases found late (whose
        # past steps are all planned at once) stops at ``limit`` reminders too.
        if len(reminders) >= limit:
            break
    created = add_reminders(conn, dialect, reminder_rows(reminders, now), marks)
    if len(rows) < limit and len(marks) == len(rows):
        return PlannedPage(created, None)
    last = rows[len(marks) - 1]
    return PlannedPage(created, PlanCursor(last.next_plan_at, last.id))


def zone_evidence(
    conn: Connection, person_ids: Sequence[str]
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The phone numbers and postal addresses of ``person_ids`` (people without a time zone
    of their own: their zone is inferred from these, as the policy does)."""
    if not person_ids:
        return {}
    cp = t.contact_points.c
    found: dict[str, tuple[list[str], list[str]]] = {}
    for chunk in chunks(sorted(set(person_ids))):
        query = select(cp.person_id, cp.kind, cp.value).where(
            cp.person_id.in_(chunk),
            cp.kind.in_((ContactKind.PHONE.value, ContactKind.POSTAL.value)),
        )
        for person_id, kind, value in conn.execute(query):
            phones, addresses = found.setdefault(person_id, ([], []))
            (phones if kind == ContactKind.PHONE.value else addresses).append(value)
    return {pid: (tuple(p), tuple(a)) for pid, (p, a) in found.items()}


def reminder_rows(reminders: Iterable[NewReminder], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "case_id": r.case_id,
            "person_id": r.person_id,
            "schedule": r.schedule,
            "step": r.step,
            "channel": r.channel,
            "template": r.template,
            "due_at": r.due_at,
            "original_due_at": r.due_at,
            "state": r.state.value,
            "tries": 0,
            "last_reason": r.last_reason,
            "created_at": now,
            "updated_at": now,
        }
        for r in reminders
    ]


def planned_marks(planned: Iterable[tuple[str, datetime]]) -> list[dict[str, Any]]:
    # Planned through ``through``: the case's next step is after it, so the planner need not
    # look at the case again before its horizon passes ``through``.
    return [{"cid": case_id, "through": through, "next": through} for case_id, through in planned]


def add_reminders(
    conn: Connection, dialect: Dialect, rows: list[dict[str, Any]], marks: list[dict[str, Any]]
) -> int:
    """Insert ``rows`` (``reminder_rows``), skipping ones whose (case, schedule, step)
    exists, and mark how far each case is planned and when it is next to be planned
    (``planned_marks``). Returns how many reminders were new (from the inserts' row counts:
    a skipped row counts none)."""
    created = 0
    if rows:
        insert_new = dialect.insert_ignore(t.reminders).execution_options(preserve_rowcount=True)
        created = conn.execute(insert_new, rows).rowcount
    if marks:
        conn.execute(
            update(t.cases)
            .where(t.cases.c.id == bindparam("cid"))
            .values(planned_through=bindparam("through"), next_plan_at=bindparam("next")),
            marks,
        )
    return created


def next_plan_after_event(state: CaseState | None) -> ColumnElement[Any] | datetime | None:
    """``next_plan_at`` of a case after an event puts it in ``state``: nothing to plan when
    it is paid or closed, else look at it again (the event may change what is planned)."""
    if state is None:
        return t.cases.c.next_plan_at
    return None if state.value in FINISHED else t.PLAN_AT_ONCE


def next_plan_of_new_case(state: str) -> datetime | None:
    """``next_plan_at`` of a case inserted in ``state``."""
    return None if state in FINISHED else t.PLAN_AT_ONCE


def next_plan_after_reimport() -> ColumnElement[Any]:
    """``next_plan_at`` of a known case updated from the bind parameters ``due_date`` and
    ``schedule``: looked at again when either changed, else as it was."""
    c = t.cases.c
    return case(
        (
            or_(c.due_date != bindparam("due_date"), c.schedule != bindparam("schedule")),
            literal(t.PLAN_AT_ONCE, t.UTCDateTime),
        ),
        else_=c.next_plan_at,
    )


def looked_at_again(now: datetime) -> dict[str, Any]:
    """The values that have the next planning look at a case again, its steps having moved
    or changed at ``now``: at once, and from ``now`` on (``planned_through`` no later than
    ``now``: a step that now falls inside the window the case was planned through is planned,
    one already past by ``now`` is not sent late, and a step already planned under the same
    key is left as it is)."""
    c = t.cases.c
    at = literal(now, t.UTCDateTime)
    return {
        "next_plan_at": t.PLAN_AT_ONCE,
        "planned_through": case((c.planned_through > at, at), else_=c.planned_through),
    }


def look_again_at_people(conn: Connection, person_ids: Sequence[str], now: datetime) -> None:
    """The collectable cases of ``person_ids`` (whose time zone changed at ``now``, so their
    steps' instants moved) are looked at again by the next planning."""
    c = t.cases.c
    for chunk in chunks(person_ids):
        conn.execute(
            update(t.cases)
            .where(c.person_id.in_(chunk), c.state.not_in(FINISHED))
            .values(**looked_at_again(now))
        )


def look_again(
    conn: Connection, schedules: Collection[str], after: str | None, limit: int, now: datetime
) -> str | None:
    c = t.cases.c
    # The page's upper bound by the primary key alone: each page reads at most ``limit``
    # index entries, however few of them are on ``schedules``.
    ids = select(c.id).order_by(c.id).offset(limit - 1).limit(1)
    if after is not None:
        ids = ids.where(c.id > after)
    last = conn.execute(ids).scalar()
    page: list[ColumnElement[bool]] = [c.schedule.in_(list(schedules)), c.state.not_in(FINISHED)]
    if after is not None:
        page.append(c.id > after)
    if last is not None:
        page.append(c.id <= last)
    conn.execute(update(t.cases).where(*page).values(**looked_at_again(now)))
    return last


def planned_steps(
    conn: Connection, schedules: Collection[str], after: int | None, limit: int
) -> list[PlannedReminder]:
    r, c = t.reminders.c, t.cases.c
    query = (
        select(
            r.id,
            r.case_id,
            r.schedule,
            r.step,
            r.channel,
            r.template,
            r.original_due_at,
            c.due_date,
            c.person_id,
            t.people.c.timezone,
        )
        .join(t.cases, c.id == r.case_id)
        .join(t.people, t.people.c.id == c.person_id)
        .where(
            r.schedule.in_(list(schedules)),
            r.state == ReminderState.PENDING.value,
            r.tries == 0,
            c.state.not_in(FINISHED),
        )
        .order_by(r.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(r.id > after)
    rows = list(conn.execute(query))
    places = zone_evidence(conn, [row.person_id for row in rows if not row.timezone])
    return [
        PlannedReminder(
            row.id,
            row.case_id,
            row.schedule,
            row.step,
            row.channel,
            row.template,
            row.original_due_at,
            row.due_date,
            row.timezone,
            *places.get(row.person_id, ((), ())),
        )
        for row in rows
    ]


def replan(conn: Connection, changes: Sequence[Replan], now: datetime) -> int:
    r = t.reminders.c
    untried = (r.id == bindparam("rid"), r.state == ReminderState.PENDING.value, r.tries == 0)
    moves = [
        {"rid": x.reminder_id, "due": x.due_at, "ch": x.channel, "tpl": x.template}
        for x in changes
        if x.due_at is not None
    ]
    cancels = [{"rid": x.reminder_id, "why": x.reason} for x in changes if x.due_at is None]
    changed = 0
    stamp = literal(now, t.UTCDateTime)
    if moves:
        changed += conn.execute(
            update(t.reminders)
            .where(*untried)
            .values(
                due_at=bindparam("due"),
                original_due_at=bindparam("due"),
                channel=bindparam("ch"),
                template=bindparam("tpl"),
                updated_at=stamp,
            )
            .execution_options(preserve_rowcount=True),
            moves,
        ).rowcount
    if cancels:
        changed += conn.execute(
            update(t.reminders)
            .where(*untried)
            .values(
                state=ReminderState.CANCELLED.value,
                last_reason=bindparam("why"),
                updated_at=stamp,
            )
            .execution_options(preserve_rowcount=True),
            cancels,
        ).rowcount
    return changed


def schema_version(conn: Connection) -> int | None:
    version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar()
    return None if version is None else int(version)


def planned_schedules(conn: Connection) -> dict[str, Any] | None:
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == _FINGERPRINTS)).scalar()
    return None if value is None else dict(json.loads(value))


def keep_planned_schedules(
    conn: Connection, dialect: Dialect, fingerprints: dict[str, Any]
) -> None:
    value = json.dumps(fingerprints, sort_keys=True)
    dialect.insert_or_update(conn, t.meta, {"key": _FINGERPRINTS}, {"value": value})


def enqueue(conn: Connection, reminder: NewReminder, now: datetime) -> int:
    result = conn.execute(
        insert(t.reminders).values(
            case_id=reminder.case_id,
            person_id=reminder.person_id,
            schedule=reminder.schedule,
            step=reminder.step,
            channel=reminder.channel,
            template=reminder.template,
            due_at=reminder.due_at,
            original_due_at=reminder.due_at,
            state=ReminderState.PENDING.value,
            tries=0,
            created_at=now,
            updated_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
