"""Reading for people, not for the send path: the status summary, a case's whole history, the
audit trail of decisions and attempts, and reminder listings for the API."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import arrangements, tallies
from dispatcher.store import schema as t
from dispatcher.store.api import CaseHistory, ListedReminder, StatusReport, UnknownCase
from dispatcher.store.rows import cases_by_id, people_by_id, reminder_from_row
from dispatcher.store.wishes import wish_history


def status(conn: Connection, now: datetime) -> StatusReport:
    """The queue and its troubles now, from the counts triggers keep (``tallies``) and two
    reads along the (state, due_at) index: its cost does not grow with the store."""
    by_state: dict[tuple[str, str], int] = defaultdict(int)
    deferred: dict[str, int] = defaultdict(int)
    for state, channel, reason, n in tallies.reminder_counts(conn):
        by_state[state, channel] += n
        for code in reason.split(",") if reason else ():
            deferred[code] += n
    r = t.reminders.c
    pending = r.state == ReminderState.PENDING.value
    next_due = conn.execute(select(func.min(r.due_at)).where(pending)).scalar()
    due_now = conn.execute(select(func.count()).where(pending, r.due_at <= now)).scalar_one()
    failures: dict[tuple[str, str], int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    for channel, outcome, error_code, n in tallies.attempt_counts(conn):
        if outcome in tallies.FAILED_OUTCOMES:
            failures[channel, error_code or "-"] += n
        elif outcome == Outcome.UNKNOWN.value:
            unknown[channel] += n
    return StatusReport(
        by_state_channel=[(s, c, n) for (s, c), n in sorted(by_state.items()) if n],
        next_due=next_due,
        due_now=due_now,
        deferred_by_reason=sorted(deferred.items(), key=lambda kv: -kv[1]),
        unknown_attempts=_unknown_attempts(conn),
        failures=[(c, code, n) for (c, code), n in sorted(failures.items()) if n],
        unknown_total=sum(unknown.values()),
        unknown_by_channel={c: n for c, n in sorted(unknown.items()) if n},
    )


def _unknown_attempts(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The oldest ``limit`` attempts whose outcome is unknown (by the outcome index: few)."""
    a = t.attempts.c
    return [
        dict(row._mapping)
        for row in conn.execute(
            select(a.id, a.reminder_id, a.case_id, a.channel, a.contact, a.at)
            .where(a.outcome == Outcome.UNKNOWN.value)
            .order_by(a.at)
            .limit(limit)
        )
    ]


def case_of_reminder(conn: Connection, reminder_id: int) -> str | None:
    return conn.execute(
        select(t.reminders.c.case_id).where(t.reminders.c.id == reminder_id)
    ).scalar()


def case_history(conn: Connection, case_id: str) -> CaseHistory:
    case = cases_by_id(conn, [case_id]).get(case_id)
    if case is None:
        raise UnknownCase(case_id)
    person = people_by_id(conn, [case.person_id])[case.person_id]
    history = CaseHistory(person=person, case=case, wishes=wish_history(conn, person.id))
    e = t.case_events.c
    history.events = [
        dict(row._mapping)
        for row in conn.execute(
            select(t.case_events).where(e.case_id == case_id).order_by(e.at, e.id)
        )
    ]
    r = t.reminders.c
    for row in conn.execute(
        select(t.reminders).where(r.case_id == case_id).order_by(r.original_due_at, r.id)
    ):
        history.reminders.append(reminder_from_row(row))
        history.reminder_reasons[row.id] = row.last_reason
    d = t.decisions.c
    for row in conn.execute(select(t.decisions).where(d.case_id == case_id).order_by(d.at, d.id)):
        item = dict(row._mapping)
        item["reasons"] = json.loads(item["reasons"])
        history.decisions.append(item)
    a = t.attempts.c
    history.attempts = [
        dict(row._mapping)
        for row in conn.execute(select(t.attempts).where(a.case_id == case_id).order_by(a.at))
    ]
    history.arrangements = arrangements.of_case(conn, case_id)
    return history


def audit_rows(conn: Connection, since: datetime, until: datetime) -> list[dict[str, Any]]:
    d, a, r = t.decisions.c, t.attempts.c, t.reminders.c
    rows: list[dict[str, Any]] = []
    for row in conn.execute(
        select(t.decisions, r.channel, r.template, r.person_id)
        .join(t.reminders, r.id == d.reminder_id)
        .where(d.at >= since, d.at < until)
    ):
        item = dict(row._mapping)
        item["record"] = "decision"
        rows.append(item)
    for row in conn.execute(
        select(t.attempts, r.template, d.policy_version)
        .outerjoin(t.reminders, r.id == a.reminder_id)
        .outerjoin(t.decisions, d.attempt_id == a.id)
        .where(a.at >= since, a.at < until)
    ):
        item = dict(row._mapping)
        item["record"] = "attempt"
        rows.append(item)
    return rows


def in_audit_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first; at one instant, a decision before the attempt it made."""
    rows.sort(key=lambda item: (item["at"], item["record"] == "attempt"))
    return rows


def list_reminders(
    conn: Connection, state: str | None, channel: str | None, after_id: int, limit: int
) -> list[ListedReminder]:
    r = t.reminders.c
    query = select(t.reminders).where(r.id > after_id).order_by(r.id).limit(limit)
    if state is not None:
        query = query.where(r.state == state)
    if channel is not None:
        query = query.where(r.channel == channel)
    return [ListedReminder(reminder_from_row(row), row.last_reason) for row in conn.execute(query)]
