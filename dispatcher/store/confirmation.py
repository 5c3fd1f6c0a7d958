"""Confirming claims just before they go to their channel: a claim still held, whose case and
person are as claimed, is confirmed for sending; one that changed is given back, as is a
claim never handed to a channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, String, bindparam, select, update

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import Claim
from dispatcher.store.bulk import rows_in
from dispatcher.store.claims import IN_FLIGHT, give_back

_A, _R, _C, _P = t.attempts.c, t.reminders.c, t.cases.c, t.people.c
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_NODE = bindparam("node", type_=String)
# One statement: is it still ours, and are its case and person as claimed?
STILL_AS_CLAIMED = (
    select(_A.id, _C.updated_at.label("case_rev"), _P.updated_at.label("person_rev"))
    .join(t.reminders, _R.id == _A.reminder_id)
    .join(t.cases, _C.id == _A.case_id)
    .join(t.people, _P.id == _A.person_id)
    .where(
        _A.id.in_(_IDS),
        _A.outcome.in_([Outcome.RESERVED.value, Outcome.SENDING.value]),
        _R.state == ReminderState.CLAIMED.value,
        _R.claimed_by == _NODE,
    )
)
_HELD = (
    select(_R.id)
    .where(
        _R.id == _A.reminder_id,
        _R.state == ReminderState.CLAIMED.value,
        _R.claimed_by == _NODE,
    )
    .exists()
)
CONFIRM = (
    update(t.attempts)
    .where(_A.id.in_(_IDS), _A.outcome.in_(IN_FLIGHT), _HELD)
    .values(outcome=Outcome.SENDING.value)
    .returning(_A.id)
)


def start_sending(conn: Connection, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
    by_attempt = {claim.attempt_id: claim for claim in claims}
    confirmed: list[str] = []
    changed: list[Claim] = []
    for attempt_id, case_rev, person_rev in rows_in(
        conn, STILL_AS_CLAIMED, "ids", list(by_attempt), {"node": node}
    ):
        claim = by_attempt[attempt_id]
        if case_rev == claim.case.revision and person_rev == claim.person.revision:
            confirmed.append(attempt_id)
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
    return {row[0] for row in rows_in(conn, CONFIRM, "ids", list(attempt_ids), {"node": node})}


def release(conn: Connection, claims: Sequence[Claim], now: datetime) -> int:
    """Give back claims never handed to a channel; returns how many went back (a claim
    settled meanwhile elsewhere is left as it is: see ``give_back``)."""
    return give_back(conn, [(c.reminder.id, c.attempt_id) for c in claims], now, "released")
