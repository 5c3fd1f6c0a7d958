"""Unknown attempts in the store, on SQLite and PostgreSQL: listed in (claim instant, id)
pages, counted exactly by channel from the tallies (also in ``status``), resolved a page per
transaction with the reminder following and a ``resolved`` decision for audit; a second
resolution changes nothing, and a reminder that moved on is left alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from dispatcher.store import schema as t
from dispatcher.store.unknown_api import Resolution, UnknownCursor
from tests.unknown_attempts import make_unknown

NOW = datetime.now(UTC)


def _reminder(store: Any, case_id: str) -> Any:
    r = t.reminders.c
    with store.engine.connect() as conn:
        return conn.execute(select(t.reminders).where(r.case_id == case_id)).one()


def _attempt(store: Any, attempt_id: str) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(t.attempts).where(t.attempts.c.id == attempt_id)).one()


def test_pages_and_counts(store: Any) -> None:
    ids = make_unknown(store, 7)
    make_unknown(store, 3, start=7, channel="email")
    assert store.unknown_counts() == {"email": 3, "sms": 7}
    report = store.status(NOW)
    assert (report.unknown_total, report.unknown_by_channel) == (10, {"email": 3, "sms": 7})
    seen, after = [], None
    while page := store.unknown_attempts("sms", None, after, 3):
        seen += [row.attempt_id for row in page]
        after = UnknownCursor(page[-1].at, page[-1].attempt_id)
    assert seen == ids
    fifth = store.unknown_attempts("sms", None, None, 10)[5].at
    since = store.unknown_attempts("sms", fifth, None, 100)
    assert [row.attempt_id for row in since] == ids[5:]


def test_each_resolution(store: Any) -> None:
    ids = make_unknown(store, 3)
    for aid, resolution in zip(ids, Resolution, strict=True):
        done = store.resolve_unknown([aid], resolution, reason="why", source="cli", now=NOW)
        assert done == [aid]
    sent, not_sent, resend = (_attempt(store, aid) for aid in ids)
    assert (sent.outcome, sent.counted) == ("placed", True)
    assert (not_sent.outcome, not_sent.counted) == ("released", False)
    assert (resend.outcome, resend.counted, resend.error_code) == (
        "failed-transient",
        True,
        "unknown_resend",
    )
    assert _reminder(store, "C0").state == "sent"
    for case_id, reason in (("C1", "unknown_not_sent"), ("C2", "unknown_resend")):
        reminder = _reminder(store, case_id)
        assert (reminder.state, reminder.tries, reminder.last_reason) == ("pending", 0, reason)
        assert reminder.due_at == NOW
    history = store.case_history("C1")
    [decision] = history.decisions
    assert (decision["verdict"], decision["attempt_id"]) == ("resolved", ids[1])
    assert decision["reasons"] == [["unknown_not_sent", "cli: why"]]
    assert store.unknown_counts() == {}
    again = store.resolve_unknown(ids, Resolution.SENT, reason="why", source="cli", now=NOW)
    assert again == []
    assert len(store.case_history("C1").decisions) == 1


def test_all_in_pages_and_a_reminder_that_moved_on(store: Any) -> None:
    make_unknown(store, 5)
    with store.engine.begin() as conn:  # an on_unknown = "resend" channel requeued this one
        conn.execute(
            update(t.reminders).where(t.reminders.c.case_id == "C4").values(state="pending")
        )
    pages = []
    while done := store.resolve_unknown(
        None, Resolution.SENT, reason="x", source="api:ops", now=NOW, channel="sms", limit=2
    ):
        pages.append(done)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert _reminder(store, "C4").state == "pending"
    assert _attempt(store, "u000004").outcome == "placed"
