"""The confirmation stage over a real SQLite file: claims confirmed a group at a time with a
few groups ahead, a claim changed elsewhere given back, a change made here confirmed again at
the send, and nothing confirmed when the store cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from dispatcher.dispatch.confirm import (
    CONFIRM_AHEAD,
    ClaimGivenBack,
    Confirmations,
    confirmation_groups,
)
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.store.api import Claim, Store
from tests.dispatch.conftest import NOW, claimed, outcomes


def test_claims_are_grouped_in_order_each_group_followed_by_the_next(store: Store) -> None:
    claims = claimed(store, 5)
    groups = confirmation_groups(claims, 2)
    assert [[c.person.id for c in g.claims] for g in groups] == [["P0", "P1"], ["P2", "P3"], ["P4"]]
    assert [g.following for g in groups] == [groups[1], groups[2], None]
    assert [len(g.claims) for g in confirmation_groups(claims, 0)] == [1] * 5
    assert confirmation_groups([], 2) == []


async def test_a_claim_is_confirmed_with_its_group_and_the_groups_ahead(store: Store) -> None:
    claims = claimed(store, 7)
    thread = StoreThread(store)
    confirmations = Confirmations(thread, node="a", clock=lambda: NOW, metrics=None)
    confirmations.group(claims, 2)
    try:
        assert await confirmations.confirm(claims[0]) is True
        await thread.call(lambda: None)  # one store thread, calls in order: those ahead are done
    finally:
        thread.shutdown()
    sending = [c.person.id for c in claims if outcomes(store, c.case.id) == ["sending"]]
    assert CONFIRM_AHEAD == 2
    assert sending == ["P0", "P1", "P2", "P3", "P4", "P5"], "P6's group is not confirmed yet"


async def test_a_claim_whose_case_changed_since_its_claim_is_not_confirmed(store: Store) -> None:
    claims = claimed(store, 2)
    store.case_event("C0", "paid", now=NOW + timedelta(seconds=1), source="api")
    thread = StoreThread(store)
    confirmations = Confirmations(thread, node="a", clock=lambda: NOW, metrics=None)
    confirmations.group(claims, 2)
    try:
        assert await confirmations.confirm(claims[0]) is False
        assert await confirmations.confirm(claims[1]) is True
    finally:
        thread.shutdown()
    assert outcomes(store, "C0") == ["released"]


async def test_a_change_made_here_is_confirmed_again_at_the_send(store: Store) -> None:
    [claim] = claimed(store, 1)
    thread = StoreThread(store)
    confirmations = Confirmations(thread, node="a", clock=lambda: NOW, metrics=None)
    confirmations.group([claim], 1)
    try:
        assert await confirmations.confirm(claim) is True
        with confirmations.sending(claim):
            store.case_event("C0", "paid", now=NOW + timedelta(seconds=1), source="api")
            # A fresh confirmation stands: another process's change is seen by the next one.
            await confirmations.confirm_at_send(claim)
            confirmations.changed("C0")
            with pytest.raises(ClaimGivenBack) as given:
                await confirmations.confirm_at_send(claim)
    finally:
        thread.shutdown()
    assert given.value.unconfirmed is False
    assert outcomes(store, "C0") == ["released"]


async def test_nothing_is_confirmed_when_the_store_cannot_say(store: Store) -> None:
    [claim] = claimed(store, 1)

    def locked(claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        raise RuntimeError("database is locked")

    store.start_sending = locked  # type: ignore[method-assign]
    metrics = Metrics()
    thread = StoreThread(store)
    confirmations = Confirmations(thread, node="a", clock=lambda: NOW, metrics=metrics)
    confirmations.group([claim], 1)
    try:
        assert await confirmations.confirm(claim) is None
    finally:
        thread.shutdown()
    errors = metrics.registry.get_sample_value("dispatcher_store_errors_total", {"call": "confirm"})
    assert errors == 1
