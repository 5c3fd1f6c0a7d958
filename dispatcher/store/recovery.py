"""Claims whose daemon is gone: a live node renews its claims; a node's own after a crash,
and any node's not renewed for the lease, are settled."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import RecoveryReport
from dispatcher.store.claims import give_back
from dispatcher.store.rows import chunks


def renew_claims(conn: Connection, node: str, now: datetime) -> int:
    r = t.reminders.c
    renewed = conn.execute(
        update(t.reminders)
        .where(r.state == ReminderState.CLAIMED.value, r.claimed_by == node)
        .values(claimed_at=now)
    ).rowcount
    return renewed or 0


def release_lost_claims(conn: Connection, node: str, held: Collection[str], now: datetime) -> int:
    """``node``'s reservations that its loop does not hold: back to the pool."""
    r, a = t.reminders.c, t.attempts.c
    rows = conn.execute(
        select(r.id, a.id.label("aid"))
        .join(t.attempts, a.reminder_id == r.id)
        .where(
            a.outcome == Outcome.RESERVED.value,
            r.state == ReminderState.CLAIMED.value,
            r.claimed_by == node,
        )
    ).all()
    lost = [(row.id, row.aid) for row in rows if row.aid not in held]
    return give_back(conn, lost, now, "released_lost_claim", (Outcome.RESERVED.value,))


def recover(conn: Connection, now: datetime, resend: list[str], node: str) -> RecoveryReport:
    r = t.reminders.c
    mine = (r.claimed_by == node) | r.claimed_by.is_(None)
    return settle_claims(conn, now, resend, mine)


def expire_claims(
    conn: Connection, now: datetime, resend: list[str], lease: timedelta
) -> RecoveryReport:
    return settle_claims(conn, now, resend, t.reminders.c.claimed_at < now - lease)


def settle_claims(conn: Connection, now: datetime, resend: list[str], which: Any) -> RecoveryReport:
    """Claims whose daemon is gone. One never confirmed for sending (``reserved``) goes
    back to the pool: nobody was contacted. One confirmed (``sending``) may have reached
    the person: its outcome is unknown, and the reminder is never sent again unless its
    channel says ``on_unknown = "resend"``."""
    r, a = t.reminders.c, t.attempts.c
    claimed = (r.state == ReminderState.CLAIMED.value) & which
    settled = {"claimed_by": None, "claimed_at": None, "updated_at": now}
    rows = conn.execute(
        select(r.id, a.id.label("aid"), a.outcome)
        .join(t.attempts, a.reminder_id == r.id)
        .where(claimed, a.outcome.in_([Outcome.RESERVED.value, Outcome.SENDING.value]))
    ).all()
    unsent = [(row.id, row.aid) for row in rows if row.outcome == Outcome.RESERVED.value]
    # Only a reservation still unconfirmed goes back: one its node confirmed since the look
    # above (a live node, slow to renew) is left for the next pass to find ``sending``.
    released = give_back(conn, unsent, now, "released_after_crash", (Outcome.RESERVED.value,))
    confirmed = [row.aid for row in rows if row.outcome == Outcome.SENDING.value]
    requeued = unknown = 0
    for chunk in chunks(confirmed):
        # A compare-and-set on ``sending``: an attempt whose outcome its node recorded since
        # the look above is that outcome, and its reminder is left as the record set it.
        ids = list(
            conn.execute(
                update(t.attempts)
                .where(a.id.in_(chunk), a.outcome == Outcome.SENDING.value)
                .values(
                    outcome=Outcome.UNKNOWN.value,
                    detail="daemon stopped before recording the outcome",
                )
                .returning(a.reminder_id)
            ).scalars()
        )
        if not ids:
            continue
        in_chunk = r.id.in_(ids) & (r.state == ReminderState.CLAIMED.value)
        requeued += (
            conn.execute(
                update(t.reminders)
                .where(in_chunk, r.channel.in_(resend))
                .values(
                    state=ReminderState.PENDING.value,
                    due_at=now,
                    last_reason="unknown_resend",
                    **settled,
                )
            ).rowcount
            or 0
        )
        unknown += (
            conn.execute(
                update(t.reminders)
                .where(in_chunk)
                .values(state=ReminderState.UNKNOWN.value, last_reason="unknown", **settled)
            ).rowcount
            or 0
        )
    return RecoveryReport(unknown=unknown, requeued=requeued, released=released)
