"""A real SQLite store with people whose reminders are claimed, for the tests of one stage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatcher.model import ContactKind, Decision, Verdict
from dispatcher.store import open_store
from dispatcher.store.api import Claim, Store
from tests.store.test_store import NOW, _people


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def send_now(reminder: Any, person: Any, case: Any, history: Any) -> Decision:
    contact = next(c for c in person.contacts if c.kind is ContactKind.PHONE)
    return Decision(Verdict.SEND, NOW, contact=contact)


def claimed(store: Store, count: int) -> list[Claim]:
    """``count`` people with a reminder due, each claimed by node ``a`` to send (P0's first)."""
    _people(store, count)
    claims = store.claim_due(NOW, count, send_now, timedelta(0), node="a").claims
    return sorted(claims, key=lambda c: c.person.id)


def outcomes(store: Store, case_id: str) -> list[str]:
    return [a["outcome"] for a in store.case_history(case_id).attempts]
