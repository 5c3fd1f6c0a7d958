"""Confirming claims just before they go to their channel: a claim still held, whose case and
person are as claimed, is confirmed for sending; one that changed is given back, as is a
claim never handed to a channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import Claim
from dispatcher.store.claims import give_back
from dispatcher.store.rows import chunks


def start_sending(conn: Connection, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
    a, r, c, p = t.attempts.c, t.reminders.c, t.cases.c, t.people.c
    by_attempt = {claim.attempt_id: claim for claim in claims}
    confirmed: list[str] = []
    changed: list[Claim] = []
    for chunk in chunks(list(by_attempt)):
        # One statement: is it still ours, and are its case and person as claimed?
        for row in conn.execute(
            select(a.id, c.updated_at.label("case_rev"), p.updated_at.label("person_rev"))
            .join(t.reminders, r.id == a.reminder_id)
            .join(t.cases, c.id == a.case_id)
            .join(t.people, p.id == a.person_id)
            .where(
                a.id.in_(chunk),
                a.outcome.in_([Outcome.RESERVED.value, Outcome.SENDING.value]),
                r.state == ReminderState.CLAIMED.value,
                r.claimed_by == node,
            )
        ):
            claim = by_attempt[row.id]
            if row.case_rev == claim.case.revision and (row.person_rev == claim.person.revision):
                confirmed.append(row.id)
            else:
                changed.append(claim)
    give_back(
        conn,
        [(claim.reminder.id, claim.attempt_id) for claim in changed],
        now,
        "changed_after_claim",
    )
    for chunk in chunks(confirmed):
        conn.execute(
            update(t.attempts).where(a.id.in_(chunk)).values(outcome=Outcome.SENDING.value)
        )
    return set(confirmed)


def release(conn: Connection, claims: Sequence[Claim], now: datetime) -> None:
    give_back(conn, [(c.reminder.id, c.attempt_id) for c in claims], now, "released")
