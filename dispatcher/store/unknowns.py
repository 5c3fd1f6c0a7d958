"""Attempts whose outcome is unknown: listed by the outcome index, counted from the tallies,
resolved a page per transaction (the attempt, its reminder while that is still ``unknown``,
and a ``resolved`` decision for audit)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t
from dispatcher.store import tallies
from dispatcher.store.rows import cases_by_id, chunks, people_by_id, reminder_from_row
from dispatcher.store.unknown_api import (
    ResendContext,
    Resolution,
    UnknownCursor,
    UnknownRow,
)

# The verdict of the decision that records a resolution (audit export, explain).
RESOLVED = "resolved"
# What each resolution makes of the attempt: its outcome, whether it counts toward limits,
# and its error code.
_ATTEMPT: dict[Resolution, dict[str, Any]] = {
    Resolution.SENT: {"outcome": Outcome.PLACED.value},
    Resolution.NOT_SENT: {"outcome": Outcome.RELEASED.value, "counted": False},
    # Still maybe sent: it keeps counting, and reads as a failure worth another try.
    Resolution.RESEND: {"outcome": Outcome.FAILED_TRANSIENT.value, "error_code": "unknown_resend"},
}


def unknown_attempts(
    conn: Connection,
    channel: str | None,
    since: datetime | None,
    after: UnknownCursor | None,
    limit: int,
) -> list[UnknownRow]:
    a = t.attempts.c
    query = (
        select(
            a.id,
            a.reminder_id,
            a.case_id,
            a.person_id,
            a.channel,
            a.contact_kind,
            a.contact,
            a.at,
            a.provider_id,
            a.detail,
        )
        .where(a.outcome == Outcome.UNKNOWN.value)
        .order_by(a.at, a.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(a.channel == channel)
    if since is not None:
        query = query.where(a.at >= since)
    if after is not None:
        query = query.where(or_(a.at > after.at, and_(a.at == after.at, a.id > after.attempt_id)))
    return [
        UnknownRow(
            attempt_id=row.id,
            reminder_id=row.reminder_id,
            case_id=row.case_id,
            person_id=row.person_id,
            channel=row.channel,
            contact_kind=row.contact_kind,
            contact=row.contact,
            at=row.at,
            provider_id=row.provider_id,
            detail=row.detail,
        )
        for row in conn.execute(query)
    ]


def unknown_counts(conn: Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for channel, outcome, _code, n in tallies.attempt_counts(conn):
        if outcome == Outcome.UNKNOWN.value:
            counts[channel] = counts.get(channel, 0) + n
    return {channel: n for channel, n in sorted(counts.items()) if n}


def resend_contexts(conn: Connection, attempt_ids: Sequence[str]) -> list[ResendContext]:
    a, r = t.attempts.c, t.reminders.c
    rows: list[Any] = []
    for chunk in chunks(list(attempt_ids)):
        rows += conn.execute(
            select(a.id.label("attempt_id"), t.reminders)
            .join(t.reminders, r.id == a.reminder_id)
            .where(a.id.in_(chunk), a.outcome == Outcome.UNKNOWN.value)
        ).all()
    reminders = [(row.attempt_id, reminder_from_row(row)) for row in rows]
    people = people_by_id(conn, sorted({rem.person_id for _, rem in reminders}))
    cases = cases_by_id(conn, sorted({rem.case_id for _, rem in reminders}))
    return [
        ResendContext(aid, rem, people[rem.person_id], cases[rem.case_id])
        for aid, rem in reminders
        if rem.person_id in people and rem.case_id in cases
    ]


def resolve_unknown(
    conn: Connection,
    attempt_ids: Sequence[str] | None,
    resolution: Resolution,
    reason: str,
    source: str,
    now: datetime,
    channel: str | None,
    limit: int,
) -> list[str]:
    a = t.attempts.c
    unknown = a.outcome == Outcome.UNKNOWN.value
    found: list[Any] = []
    if attempt_ids is None:
        query = select(a.id, a.reminder_id, a.case_id).where(unknown).order_by(a.at, a.id)
        if channel is not None:
            query = query.where(a.channel == channel)
        found = list(conn.execute(query.limit(limit)).all())
    else:
        for chunk in chunks(list(dict.fromkeys(attempt_ids))):
            found += conn.execute(
                select(a.id, a.reminder_id, a.case_id).where(a.id.in_(chunk), unknown)
            ).all()
    if not found:
        return []
    ids = [row.id for row in found]
    for chunk in chunks(ids):
        conn.execute(
            update(t.attempts)
            .where(a.id.in_(chunk), unknown)
            .values(
                finished_at=func.coalesce(a.finished_at, now),
                detail=f"resolved {resolution.value} by {source}: {reason}"[:1000],
                **_ATTEMPT[resolution],
            )
        )
    reminder_ids = [row.reminder_id for row in found if row.reminder_id is not None]
    _reminders_follow(conn, reminder_ids, resolution, now)
    reasons = json.dumps([[f"unknown_{resolution.value}", f"{source}: {reason}"]])
    decisions = [
        {"rid": row.reminder_id, "cid": row.case_id, "aid": row.id}
        for row in found
        if row.reminder_id is not None
    ]
    if decisions:
        conn.execute(
            insert(t.decisions).values(
                reminder_id=bindparam("rid"),
                case_id=bindparam("cid"),
                attempt_id=bindparam("aid"),
                at=now,
                verdict=RESOLVED,
                reasons=reasons,
                flags="",
            ),
            decisions,
        )
    return ids


def _reminders_follow(
    conn: Connection, reminder_ids: Sequence[int], resolution: Resolution, now: datetime
) -> None:
    """A reminder still ``unknown`` follows its attempt: sent, or pending again at once with
    its try given back (a reminder that moved on meanwhile is left alone)."""
    r = t.reminders.c
    values: dict[str, Any]
    if resolution is Resolution.SENT:
        values = {"state": ReminderState.SENT.value}
    else:
        values = {
            "state": ReminderState.PENDING.value,
            "due_at": now,
            "tries": func.max(r.tries - 1, 0)
            if conn.dialect.name == "sqlite"
            else func.greatest(r.tries - 1, 0),
            "last_reason": f"unknown_{resolution.value}",
        }
    for chunk in chunks(list(reminder_ids)):
        conn.execute(
            update(t.reminders)
            .where(r.id.in_(chunk), r.state == ReminderState.UNKNOWN.value)
            .values(updated_at=now, claimed_by=None, claimed_at=None, **values)
        )
