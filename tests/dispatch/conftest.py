"""A real SQLite store with people whose reminders are claimed, for the tests of one stage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatcher.model import ContactKind, Decision, Verdict
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, Claim, NewReminder, PersonIn, Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def send_now(reminder: Any, person: Any, case: Any, history: Any) -> Decision:
    contact = next(c for c in person.contacts if c.kind is ContactKind.PHONE)
    return Decision(Verdict.SEND, NOW, contact=contact)


def due(store: Store, count: int) -> None:
    """``count`` people (P0, P1 …), each with a case (C0, C1 …) and one reminder due."""
    store.upsert(
        [
            PersonIn(
                id=f"P{i}",
                name=f"Name {i}",
                locale="en",
                timezone="UTC",
                phones=(f"+44791112340{i}",),
            )
            for i in range(count)
        ],
        [
            CaseIn(f"C{i}", f"P{i}", "10.00", "GBP", date(2026, 11, 1), "standard")
            for i in range(count)
        ],
        NOW,
    )
    store.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="standard",
                step="1",
                channel="sms",
                template="t",
                due_at=NOW - timedelta(minutes=5) + timedelta(seconds=i),
            )
            for i in range(count)
        ],
        [],
        NOW,
    )


def claimed(store: Store, count: int) -> list[Claim]:
    """``count`` people with a reminder due, each claimed by node ``a`` to send (P0's first)."""
    due(store, count)
    claims = store.claim_due(NOW, count, send_now, timedelta(0), node="a").claims
    return sorted(claims, key=lambda c: c.person.id)


def outcomes(store: Store, case_id: str) -> list[str]:
    return [a["outcome"] for a in store.case_history(case_id).attempts]
