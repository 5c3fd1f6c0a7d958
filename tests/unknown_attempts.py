"""Attempts whose outcome is unknown, as a crash leaves them (reminder and attempt
``unknown``), written in bulk: people, cases, reminders and attempts by one statement each,
counted by the tallies' triggers as any write is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t
from dispatcher.store.api import Store


def make_unknown(
    store: Store,
    count: int,
    *,
    channel: str = "sms",
    start: int = 0,
    contact: str | None = None,
    case_state: str = "open",
) -> list[str]:
    """People ``P<i>`` with cases ``C<i>``, each with one reminder on ``channel`` whose
    attempt ``u<i>`` (claimed an hour ago, to ``contact`` or ``+86138<i>``) is unknown.
    Returns the attempt ids, oldest first."""
    now = datetime.now(UTC)
    claimed = now - timedelta(hours=1)
    numbers = range(start, start + count)
    kind = "postal" if channel == "letter" else "email" if channel == "email" else "phone"

    def address(i: int) -> str:
        if contact is not None:
            return contact
        return {"postal": f"{i} Example Road", "email": f"p{i}@example.com"}.get(
            kind, f"+86138{i:08d}"
        )

    engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        stamp = {"created_at": now, "updated_at": now}
        conn.execute(
            insert(t.people),
            [{"id": f"P{i}", "name": f"Person {i}", "locale": "en", **stamp} for i in numbers],
        )
        conn.execute(
            insert(t.contact_points),
            [
                {"person_id": f"P{i}", "kind": kind, "value": address(i), "updated_at": now}
                for i in numbers
            ],
        )
        conn.execute(
            insert(t.cases),
            [
                {
                    "id": f"C{i}",
                    "person_id": f"P{i}",
                    "amount": "100.00",
                    "currency": "CNY",
                    "due_date": date.today() - timedelta(days=30),
                    "state": case_state,
                    "schedule": "adhoc-only",
                    "next_plan_at": None,
                    **stamp,
                }
                for i in numbers
            ],
        )
        conn.execute(
            insert(t.reminders),
            [
                {
                    "case_id": f"C{i}",
                    "person_id": f"P{i}",
                    "schedule": "test",
                    "step": "1",
                    "channel": channel,
                    "template": "first_notice",
                    "due_at": claimed,
                    "original_due_at": claimed,
                    "state": ReminderState.UNKNOWN.value,
                    "tries": 1,
                    "last_reason": "unknown",
                    **stamp,
                }
                for i in numbers
            ],
        )
        reminder_ids = dict(
            conn.execute(
                t.reminders.select()
                .with_only_columns(t.reminders.c.case_id, t.reminders.c.id)
                .where(t.reminders.c.case_id.in_([f"C{i}" for i in numbers]))
            ).all()
        )
        ids = [f"u{i:06d}" for i in numbers]
        conn.execute(
            insert(t.attempts),
            [
                {
                    "id": aid,
                    "reminder_id": reminder_ids[f"C{i}"],
                    "person_id": f"P{i}",
                    "case_id": f"C{i}",
                    "channel": channel,
                    "contact_kind": kind,
                    "contact": address(i),
                    "at": claimed + timedelta(milliseconds=i),
                    "outcome": Outcome.UNKNOWN.value,
                    "counted": True,
                    "detail": "daemon stopped before recording the outcome",
                }
                for aid, i in zip(ids, numbers, strict=True)
            ],
        )
    return ids
