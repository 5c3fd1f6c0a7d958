"""New reminders: the cases the planner has still to plan, the reminders it plans for them
(with how far each case is planned), and one ad-hoc reminder at a time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from dispatcher.model import CaseState, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import NewReminder, PlanningCase
from dispatcher.store.dialect import Dialect
from dispatcher.store.rows import case_from_row


def cases_to_plan(conn: Connection, through: datetime, limit: int) -> list[PlanningCase]:
    c = t.cases.c
    query = (
        select(t.cases, t.people.c.timezone)
        .join(t.people, t.people.c.id == c.person_id)
        .where(
            c.state.not_in([CaseState.PAID.value, CaseState.CLOSED.value]),
            (c.planned_through.is_(None)) | (c.planned_through < through),
        )
        .order_by(c.id)
        .limit(limit)
    )
    return [
        PlanningCase(case_from_row(row), row.timezone, row.planned_through)
        for row in conn.execute(query)
    ]


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
    return [{"cid": case_id, "through": through} for case_id, through in planned]


def add_reminders(
    conn: Connection, dialect: Dialect, rows: list[dict[str, Any]], marks: list[dict[str, Any]]
) -> int:
    """Insert ``rows`` (``reminder_rows``), skipping ones whose (case, schedule, step)
    exists, and mark how far each case is planned (``planned_marks``). Returns how many
    reminders were new."""
    before = conn.execute(select(func.count()).select_from(t.reminders)).scalar_one()
    if rows:
        conn.execute(dialect.insert_ignore(t.reminders), rows)
    if marks:
        conn.execute(
            update(t.cases)
            .where(t.cases.c.id == bindparam("cid"))
            .values(planned_through=bindparam("through")),
            marks,
        )
    after = conn.execute(select(func.count()).select_from(t.reminders)).scalar_one()
    return int(after - before)


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
