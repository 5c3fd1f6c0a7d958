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


def test_each_verdict_fills_its_own_rows_and_each_decision_has_a_row() -> None:
    due = [_reminder(1, "P0"), _reminder(2, "P1"), _reminder(3, "P2"), _reminder(4, "P3")]
    later = NOW + timedelta(hours=2)
    answers = {
        1: Decision(Verdict.SEND, NOW, contact=PHONE, flags=("first",)),
        2: Decision(
            Verdict.DEFER,
            NOW,
            until=later,
            reasons=(
                Reason("quiet_hours", "22:40 Asia/Shanghai 不在 08:00–21:00"),
                Reason("min_gap", "gap"),
            ),
        ),
        3: Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("case_paid", "paid", "events"),)),
        4: Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("opted_out", "opted out"),)),
    }
    seen: list[tuple[int, str, str, int]] = []

    def decide(
        reminder: Reminder, person: Person, case: Case, history: Sequence[Attempt]
    ) -> Decision:
        seen.append((reminder.id, person.id, case.id, len(history)))
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

    # In order, each with its own person, case and history.
    assert seen == [(1, "P0", "C-P0", 1), (2, "P1", "C-P1", 0), (3, "P2", "C-P2", 0)] + [
        (4, "P3", "C-P3", 0)
    ]
    assert [(r.id, d.verdict) for r, d in batch.decided] == [
        (r.id, answers[r.id].verdict) for r in due
    ]
    [claim] = batch.claims
    assert (claim.reminder.id, claim.contact, claim.history) == (1, PHONE, (past,))
    assert batch.sends == [{"rid": 1}]
    assert batch.attempt_rows == [
        {
            "id": claim.attempt_id,
            "reminder_id": 1,
            "person_id": "P0",
            "case_id": "C-P0",
            "channel": "sms",
            "contact_kind": "phone",
            "contact": PHONE.value,
            "at": NOW,
            "outcome": Outcome.RESERVED.value,
            "counted": True,
        }
    ]
    assert batch.moves == [{"rid": 2, "due": later, "why": "quiet_hours,min_gap"}]
    assert batch.ends == [
        {"rid": 3, "st": "cancelled", "why": "case_paid"},
        {"rid": 4, "st": "suppressed", "why": "opted_out"},
    ]
    common = {"at": NOW, "policy_version": "v7"}
    assert [{k: v for k, v in row.items() if k != "reasons"} for row in batch.decision_rows] == [
        {"reminder_id": 1, "case_id": "C-P0", "verdict": "send", "until": None}
        | {"flags": "first", "attempt_id": claim.attempt_id}
        | common,
        {"reminder_id": 2, "case_id": "C-P1", "verdict": "defer", "until": later}
        | {"flags": "", "attempt_id": None}
        | common,
        {"reminder_id": 3, "case_id": "C-P2", "verdict": "suppress", "until": None}
        | {"flags": "", "attempt_id": None}
        | common,
        {"reminder_id": 4, "case_id": "C-P3", "verdict": "suppress", "until": None}
        | {"flags": "", "attempt_id": None}
        | common,
    ]
    reasons = [row["reasons"] for row in batch.decision_rows]
    # Kept as written (the audit export shows Chinese text as such), each with its rule if any.
    assert "不在" in reasons[1]
    assert [json.loads(text) for text in reasons] == [
        [],
        [["quiet_hours", "22:40 Asia/Shanghai 不在 08:00–21:00"], ["min_gap", "gap"]],
        [["case_paid", "paid", "events"]],
        [["opted_out", "opted out"]],
    ]
