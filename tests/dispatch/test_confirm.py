"""The confirmation stage over a real SQLite file: the claims that became ready together are
confirmed in one transaction, those that became ready while it was in the store in the next
one; a claim changed elsewhere is given back; a change made here while its confirmation was in
the store, or since, has it confirmed again; a confirmation grown old is made again; and
nothing is confirmed when the store cannot say."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from dispatcher.dispatch import confirm
from dispatcher.dispatch.confirm import ClaimGivenBack, Confirmations
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.store.api import Claim, Store
from tests.dispatch.conftest import NOW, claimed, outcomes


class Counted:
    """``store.start_sending``, recording the people of each call; ``hold`` keeps the next
    call in the store until set (before it reads, or with ``hold_after`` once it answered)."""

    def __init__(self, store: Store) -> None:
        self.calls: list[list[str]] = []
        self.hold: threading.Event | None = None
        self.held = threading.Event()  # a call is being held
        self.hold_after = False
        self._real = store.start_sending
        store.start_sending = self  # type: ignore[method-assign,assignment]

    def __call__(self, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        self.calls.append(sorted(c.person.id for c in claims))
        hold, self.hold = self.hold, None
        answer = self._real(claims, node, now) if self.hold_after else None
        if hold is not None:
            self.held.set()
            hold.wait(timeout=30)
        return self._real(claims, node, now) if answer is None else answer


def confirmations_of(store: Store, metrics: Metrics | None = None) -> Confirmations:
    return Confirmations(StoreThread(store), node="a", clock=lambda: NOW, metrics=metrics)


async def test_claims_ready_together_are_confirmed_in_one_call_the_next_ones_after_it(
    store: Store,
) -> None:
    claims = claimed(store, 6)
    counted = Counted(store)
    confirmations = confirmations_of(store)
    hold = counted.hold = threading.Event()
    try:
        first = [asyncio.ensure_future(confirmations.confirm(c)) for c in claims[:2]]
        await asyncio.to_thread(counted.held.wait, 30)
        # Ready while the first confirmation is in the store: confirmed together after it.
        later = [asyncio.ensure_future(confirmations.confirm(c)) for c in claims[2:]]
        await asyncio.sleep(0)
        assert len(counted.calls) == 1
        hold.set()
        await asyncio.gather(*first, *later)
    finally:
        hold.set()
        confirmations._store.shutdown()
    assert counted.calls == [["P0", "P1"], ["P2", "P3", "P4", "P5"]]
    assert all(outcomes(store, c.case.id) == ["sending"] for c in claims)


async def test_a_claim_whose_case_changed_since_its_claim_is_given_back(store: Store) -> None:
    claims = claimed(store, 2)
    store.case_event("C0", "paid", now=NOW + timedelta(seconds=1), source="api")
    confirmations = confirmations_of(store)
    try:
        results = await asyncio.gather(
            *(confirmations.confirm(c) for c in claims), return_exceptions=True
        )
    finally:
        confirmations._store.shutdown()
    assert isinstance(results[0], ClaimGivenBack) and not results[0].unconfirmed
    assert results[1] is None
    assert outcomes(store, "C0") == ["released"]
    assert outcomes(store, "C1") == ["sending"]


async def test_a_change_made_here_while_the_store_confirms_has_the_claim_confirmed_again(
    store: Store,
) -> None:
    [claim] = claimed(store, 1)
    counted = Counted(store)
    confirmations = confirmations_of(store)
    hold = counted.hold = threading.Event()
    counted.hold_after = True  # the store has confirmed it, its answer not yet back
    try:
        confirming = asyncio.ensure_future(confirmations.confirm(claim))
        await asyncio.to_thread(counted.held.wait, 30)
        # The API records a payment and tells the loop while the confirmation is in the store.
        store.case_event("C0", "paid", now=NOW + timedelta(seconds=1), source="api")
        confirmations.changed("C0")
        hold.set()
        with pytest.raises(ClaimGivenBack) as given:
            await confirming
    finally:
        hold.set()
        confirmations._store.shutdown()
    assert given.value.unconfirmed is False
    assert len(counted.calls) == 2
    assert outcomes(store, "C0") == ["released"]


async def test_a_fresh_confirmation_stands_a_change_here_or_an_old_one_is_made_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    [claim] = claimed(store, 1)
    counted = Counted(store)
    confirmations = confirmations_of(store)
    try:
        with confirmations.sending(claim):
            await confirmations.confirm(claim)
            await confirmations.confirm(claim)  # a retry moments later: no store call
            assert len(counted.calls) == 1
            confirmations.changed("P0")
            await confirmations.confirm(claim)
            assert len(counted.calls) == 2
            monkeypatch.setattr(confirm, "CONFIRMATION_FRESH", 0.0)
            await asyncio.sleep(0.001)
            store.case_event("C0", "paid", now=NOW + timedelta(seconds=1), source="api")
            with pytest.raises(ClaimGivenBack):
                await confirmations.confirm(claim)  # grown old: the store sees the payment
    finally:
        confirmations._store.shutdown()
    assert len(counted.calls) == 3
    assert outcomes(store, "C0") == ["released"]


async def test_nothing_is_confirmed_when_the_store_cannot_say(store: Store) -> None:
    claims = claimed(store, 2)

    def locked(claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        raise RuntimeError("database is locked")

    store.start_sending = locked  # type: ignore[method-assign]
    metrics = Metrics()
    confirmations = confirmations_of(store, metrics)
    try:
        results = await asyncio.gather(
            *(confirmations.confirm(c) for c in claims), return_exceptions=True
        )
    finally:
        confirmations._store.shutdown()
    assert all(isinstance(r, ClaimGivenBack) and r.unconfirmed for r in results)
    errors = metrics.registry.get_sample_value("dispatcher_store_errors_total", {"call": "confirm"})
    assert errors == 1, "one batch, one error"
