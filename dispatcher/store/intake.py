"""Intake into the store: people with their contact points, and their cases, inserted or
updated in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, PersonIn
from dispatcher.store.dialect import Dialect
from dispatcher.store.planning import (
    look_again_at_people,
    next_plan_after_reimport,
    next_plan_of_new_case,
)
from dispatcher.store.rows import chunks


def upsert(
    conn: Connection,
    dialect: Dialect,
    people: Sequence[PersonIn],
    cases: Sequence[CaseIn],
    now: datetime,
) -> None:
    upsert_people(conn, dialect, people, now)
    upsert_cases(conn, cases, now)


def upsert_people(
    conn: Connection, dialect: Dialect, people: Sequence[PersonIn], now: datetime
) -> None:
    if not people:
        return
    ids = [p.id for p in people]
    existing: dict[str, str | None] = {}  # id → time zone
    for chunk in chunks(ids):
        query = select(t.people.c.id, t.people.c.timezone).where(t.people.c.id.in_(chunk))
        existing.update((row.id, row.timezone) for row in conn.execute(query))
    fresh = [p for p in people if p.id not in existing]
    known = [p for p in people if p.id in existing]
    # A new time zone moves the instants of the person's steps: plan their cases again.
    look_again_at_people(conn, [p.id for p in known if p.timezone != existing[p.id]])
    if fresh:
        conn.execute(
            insert(t.people),
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "locale": p.locale,
                    "timezone": p.timezone,
                    "created_at": now,
                    "updated_at": now,
                }
                for p in fresh
            ],
        )
    if known:
        conn.execute(
            update(t.people)
            .where(t.people.c.id == bindparam("pid"))
            .values(
                name=bindparam("name"),
                locale=bindparam("locale"),
                timezone=bindparam("timezone"),
                updated_at=now,
            ),
            [
                {"pid": p.id, "name": p.name, "locale": p.locale, "timezone": p.timezone}
                for p in known
            ],
        )
    upsert_contact_points(conn, dialect, people, now)


def upsert_contact_points(
    conn: Connection, dialect: Dialect, people: Sequence[PersonIn], now: datetime
) -> None:
    # Contact points: add new ones, keep status of existing ones (an opt-out or a dead
    # number must survive a re-import), update priority.
    rows = [
        {
            "person_id": p.id,
            "kind": kind.value,
            "value": value,
            "priority": prio,
            "status": "ok",
            "updated_at": now,
        }
        for p in people
        for kind, value, prio in p.contact_values()
    ]
    if rows:
        conn.execute(dialect.insert_ignore(t.contact_points), rows)
        conn.execute(
            update(t.contact_points)
            .where(
                t.contact_points.c.person_id == bindparam("pid"),
                t.contact_points.c.kind == bindparam("k"),
                t.contact_points.c.value == bindparam("v"),
            )
            .values(priority=bindparam("p")),
            [
                {"pid": r["person_id"], "k": r["kind"], "v": r["value"], "p": r["priority"]}
                for r in rows
            ],
        )


def upsert_cases(conn: Connection, cases: Sequence[CaseIn], now: datetime) -> None:
    if not cases:
        return
    existing: set[str] = set()
    for chunk in chunks([c.id for c in cases]):
        existing.update(conn.execute(select(t.cases.c.id).where(t.cases.c.id.in_(chunk))).scalars())
    fresh = [c for c in cases if c.id not in existing]
    known = [c for c in cases if c.id in existing]
    if fresh:
        conn.execute(
            insert(t.cases),
            [
                {
                    "id": c.id,
                    "person_id": c.person_id,
                    "amount": c.amount,
                    "currency": c.currency,
                    "due_date": c.due_date,
                    "state": c.state,
                    "paused_until": c.paused_until,
                    "schedule": c.schedule,
                    "next_plan_at": next_plan_of_new_case(c.state),
                    "created_at": now,
                    "updated_at": now,
                }
                for c in fresh
            ],
        )
    if known:
        # A re-import updates the debt's facts; its state changes only through events.
        conn.execute(
            update(t.cases)
            .where(t.cases.c.id == bindparam("cid"))
            .values(
                amount=bindparam("amount"),
                currency=bindparam("currency"),
                due_date=bindparam("due_date"),
                schedule=bindparam("schedule"),
                next_plan_at=next_plan_after_reimport(),
                updated_at=now,
            ),
            [
                {
                    "cid": c.id,
                    "amount": c.amount,
                    "currency": c.currency,
                    "due_date": c.due_date,
                    "schedule": c.schedule,
                }
                for c in known
            ],
        )
