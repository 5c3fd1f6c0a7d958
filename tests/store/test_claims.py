"""Deciding a claim batch, before anything is written: plain values in, the rows of each
statement out (the store tests run the whole claim on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    Decision,
    Outcome,
    Person,
    Reason,
    Reminder,
    Verdict,
)
from dispatcher.store.claims import decide_due

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PHONE = ContactPoint(1, ContactKind.PHONE, "+447911123400")


def _reminder(rid: int, person: str) -> Reminder:
    due = NOW - timedelta(minutes=5)
    return Reminder(rid, f"C-{person}", person, "std", "d0", "sms", "t", due, due)


def _person(pid: str) -> Person:
    return Person(pid, "Name", "en", "UTC", contacts=(PHONE,))


def _case(person: str) -> Case:
    return Case(f"C-{person}", person, "10.00", "EUR", date(2026, 11, 1), CaseState.OPEN, "std")


def test_each_verdict_fills_its_own_rows_and_every_decision_is_recorded() -> None:
    due = [_reminder(1, "P0"), _reminder(2, "P1"), _reminder(3, "P2"), _reminder(4, "P3")]
    later = NOW + timedelta(hours=2)
    answers = {
        1: Decision(Verdict.SEND, NOW, contact=PHONE, flags=("first",)),
        2: Decision(Verdict.DEFER, NOW, until=later, reasons=(Reason("quiet", "quiet hours"),)),
        3: Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("case_paid", "paid", "events"),)),
        4: Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("opted_out", "opted out"),)),
    }
    seen: list[tuple[int, int]] = []

    def decide(
        reminder: Reminder, person: Person, case: Case, history: Sequence[Attempt]
    ) -> Decision:
        seen.append((reminder.id, len(history)))
        return answers[reminder.id]

    past = Attempt(
        "a0", 9, "P0", "C-P0", "sms", PHONE.value, NOW - timedelta(days=1), Outcome.DELIVERED
    )
    batch = decide_due(
        due,
        {p: _person(p) for p in ("P0", "P1", "P2", "P3")},
        {f"C-{p}": _case(p) for p in ("P0", "P1", "P2", "P3")},
        {"P0": [past]},
        decide,
        NOW,
        "v7",
    )

    assert seen == [(1, 1), (2, 0), (3, 0), (4, 0)]  # in order, each with its own history
    assert [(r.id, d.verdict) for r, d in batch.decided] == [
        (r.id, answers[r.id].verdict) for r in due
    ]
    [claim] = batch.claims
    assert (claim.reminder.id, claim.contact, claim.history) == (1, PHONE, (past,))
    assert batch.sends == [{"rid": 1}]
    [attempt] = batch.attempt_rows
    assert attempt["id"] == claim.attempt_id and attempt["outcome"] == Outcome.RESERVED.value
    assert batch.moves == [{"rid": 2, "due": later, "why": "quiet"}]
    assert batch.ends == [
        {"rid": 3, "st": "cancelled", "why": "case_paid"},
        {"rid": 4, "st": "suppressed", "why": "opted_out"},
    ]
    rows = {row["reminder_id"]: row for row in batch.decision_rows}
    assert [row["attempt_id"] for row in batch.decision_rows] == [
        claim.attempt_id,
        None,
        None,
        None,
    ]
    assert {row["policy_version"] for row in batch.decision_rows} == {"v7"}
    assert rows[1]["flags"] == "first"
    assert json.loads(rows[3]["reasons"]) == [["case_paid", "paid", "events"]]
    assert json.loads(rows[2]["reasons"]) == [["quiet", "quiet hours"]]
