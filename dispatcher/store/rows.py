"""Rows into domain objects: cases, reminders, people with their contact points and opt-outs,
and a person's attempt history, read by id in chunks that fit any dialect's IN list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    Consent,
    ContactKind,
    ContactPoint,
    OptOut,
    Outcome,
    Person,
    Reminder,
    ReminderState,
)
from dispatcher.store import schema as t

CHUNK = 500  # ids per IN (...) list; far below every dialect's bound-parameter limit

# Stored values to enum members by lookup: calling the enum costs a few times more, per row.
CONTACT_KINDS = {kind.value: kind for kind in ContactKind}
OUTCOMES = {outcome.value: outcome for outcome in Outcome}
REMINDER_STATES = {state.value: state for state in ReminderState}
CASE_STATES = {state.value: state for state in CaseState}

# The columns each domain object is built from: reading only these spares the claim path
# converting instants it never uses (a datetime read back is parsed per value on SQLite).
CASE_COLUMNS = tuple(
    t.cases.c[name]
    for name in (
        "id",
        "person_id",
        "amount",
        "currency",
        "due_date",
        "state",
        "schedule",
        "paused_until",
        "updated_at",
    )
)
REMINDER_COLUMNS = tuple(
    t.reminders.c[name]
    for name in (
        "id",
        "case_id",
        "person_id",
        "schedule",
        "step",
        "channel",
        "template",
        "due_at",
        "original_due_at",
        "state",
        "tries",
    )
)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def case_from_row(row: Any) -> Case:
    return Case(
        id=row.id,
        person_id=row.person_id,
        amount=row.amount,
        currency=row.currency,
        due_date=row.due_date,
        state=CASE_STATES[row.state],
        schedule=row.schedule,
        paused_until=row.paused_until,
        revision=row.updated_at,
    )


def reminder_from_row(row: Any) -> Reminder:
    return Reminder(
        id=row.id,
        case_id=row.case_id,
        person_id=row.person_id,
        schedule=row.schedule,
        step=row.step,
        channel=row.channel,
        template=row.template,
        due_at=row.due_at,
        original_due_at=row.original_due_at,
        state=REMINDER_STATES[row.state],
        tries=row.tries,
    )


def people_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Person]:
    base: dict[str, Any] = {}
    contacts: dict[str, list[ContactPoint]] = defaultdict(list)
    outs: dict[str, list[OptOut]] = defaultdict(list)
    consents: dict[str, list[Consent]] = defaultdict(list)
    p, cp = t.people.c, t.contact_points.c
    for chunk in chunks(list(ids)):
        for row in conn.execute(
            select(p.id, p.name, p.locale, p.timezone, p.updated_at).where(p.id.in_(chunk))
        ):
            base[row.id] = row
        for point_id, person_id, kind, value, status, priority in conn.execute(
            select(cp.id, cp.person_id, cp.kind, cp.value, cp.status, cp.priority).where(
                cp.person_id.in_(chunk)
            )
        ):
            contacts[person_id].append(
                ContactPoint(point_id, CONTACT_KINDS[kind], value, status, priority)
            )
        for person_id, channel, contact in conn.execute(
            select(t.opt_outs.c.person_id, t.opt_outs.c.channel, t.opt_outs.c.contact).where(
                t.opt_outs.c.person_id.in_(chunk), t.opt_outs.c.cleared_at.is_(None)
            )
        ):
            outs[person_id].append(OptOut(channel, contact))
        k = t.consents.c
        for person_id, channel, contact in conn.execute(
            select(k.person_id, k.channel, k.contact).where(
                k.person_id.in_(chunk), k.revoked_at.is_(None)
            )
        ):
            consents[person_id].append(Consent(channel, contact))
    return {
        pid: Person(
            id=row.id,
            name=row.name,
            locale=row.locale,
            timezone=row.timezone,
            contacts=tuple(contacts[pid]),
            opt_outs=tuple(outs[pid]),
            consents=tuple(consents[pid]),
            revision=row.updated_at,
        )
        for pid, row in base.items()
    }


def cases_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Case]:
    out: dict[str, Case] = {}
    for chunk in chunks(list(ids)):
        for row in conn.execute(select(*CASE_COLUMNS).where(t.cases.c.id.in_(chunk))):
            out[row.id] = case_from_row(row)
    return out


def history_by_person(
    conn: Connection, person_ids: Sequence[str], since: datetime
) -> dict[str, list[Attempt]]:
    out: dict[str, list[Attempt]] = defaultdict(list)
    a = t.attempts.c
    for chunk in chunks(list(person_ids)):
        rows = conn.execute(
            select(
                a.id,
                a.reminder_id,
                a.person_id,
                a.case_id,
                a.channel,
                a.contact,
                a.at,
                a.outcome,
                a.counted,
            ).where(a.person_id.in_(chunk), a.at > since, a.outcome != Outcome.RELEASED.value)
        )
        for aid, reminder_id, person_id, case_id, channel, contact, at, outcome, counted in rows:
            out[person_id].append(
                Attempt(
                    aid,
                    reminder_id,
                    person_id,
                    case_id,
                    channel,
                    contact,
                    at,
                    OUTCOMES[outcome],
                    bool(counted),
                )
            )
    return out
