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
from dispatcher.store.claims import IN_FLIGHT, give_back
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
    return confirm(conn, confirmed, node)


def confirm(conn: Connection, attempt_ids: Sequence[str], node: str) -> set[str]:
    """Mark ``attempt_ids`` ``sending`` and return those marked. A compare-and-set on what
    the check above saw: still in flight, its reminder still claimed by ``node``. Another
    connection may have settled the claim since that check (the drain's release on the other
    store thread, another node's recovery): such a claim is not confirmed, so not sent."""
    a, r = t.attempts.c, t.reminders.c
    held = (
        select(r.id)
        .where(
            r.id == a.reminder_id,
            r.state == ReminderState.CLAIMED.value,
            r.claimed_by == node,
        )
        .exists()
    )
    confirmed: set[str] = set()
    for chunk in chunks(attempt_ids):
        confirmed.update(
            conn.execute(
                update(t.attempts)
                .where(a.id.in_(chunk), a.outcome.in_(IN_FLIGHT), held)
                .values(outcome=Outcome.SENDING.value)
                .returning(a.id)
            ).scalars()
        )
    return confirmed


def release(conn: Connection, claims: Sequence[Claim], now: datetime) -> int:
    """Give back claims never handed to a channel; returns how many went back (a claim
    settled meanwhile elsewhere is left as it is: see ``give_back``)."""
    return give_back(conn, [(c.reminder.id, c.attempt_id) for c in claims], now, "released")
