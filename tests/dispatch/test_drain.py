"""Giving claims back over a real SQLite file: at stop, the claims not yet handed to a
channel; and a claim the store could not confirm, once the store takes it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dispatcher.dispatch.drain import drain, give_back
from dispatcher.dispatch.held import HeldClaims
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.store.api import Claim, Store
from tests.dispatch.conftest import NOW, claimed, outcomes


async def test_the_drain_lets_started_sends_finish_and_gives_back_the_waiting(
    store: Store,
) -> None:
    first, second = claimed(store, 2)
    held = HeldClaims()
    finished: list[str] = []

    async def send(claim: Claim) -> None:
        await asyncio.sleep(0.01)
        held.let_go(claim)
        finished.append(claim.person.id)

    held.start(first, send)
    held.hold(second)
    thread = StoreThread(store)
    try:
        await drain(held, thread, lambda: NOW, timeout=5)
    finally:
        thread.shutdown()
    assert finished == ["P0"]
    assert (held.waiting, held.sends) == (0, 0)
    assert outcomes(store, "C0") == ["reserved"], "started: its own send records it"
    assert outcomes(store, "C1") == ["released"]


async def test_a_claim_is_given_back_once_the_store_takes_it(store: Store) -> None:
    [claim] = claimed(store, 1)
    real_release = store.release
    refusals: list[int] = []

    def release_or_refuse(claims: Sequence[Claim], now: datetime) -> None:
        if not refusals:
            refusals.append(len(claims))
            raise RuntimeError("database is locked")
        real_release(claims, NOW)

    store.release = release_or_refuse  # type: ignore[method-assign]
    held = HeldClaims()
    held.hold(claim)
    thread = StoreThread(store)
    try:
        await give_back(claim, held, thread, lambda: NOW, asyncio.Event())
    finally:
        thread.shutdown()
    assert refusals == [1]
    assert held.waiting == 0
    assert outcomes(store, "C0") == ["released"]


async def test_at_stop_a_claim_the_store_refuses_stays_held_for_the_drain(store: Store) -> None:
    [claim] = claimed(store, 1)

    def refuse(claims: Sequence[Claim], now: datetime) -> None:
        raise RuntimeError("database is locked")

    store.release = refuse  # type: ignore[method-assign]
    held = HeldClaims()
    stopping = asyncio.Event()
    stopping.set()
    thread = StoreThread(store)
    try:
        await give_back(claim, held, thread, lambda: NOW, stopping)
    finally:
        thread.shutdown()
    assert held.take_waiting() == [claim]


async def test_the_drain_logs_only_the_sends_it_cut_off_and_the_claims_it_released(
    store: Store, caplog: Any
) -> None:
    """At stop, one send is in its channel and two claims still wait for a send slot: the
    drain cuts off the send (its outcome unknown) and gives back the two, and says so —
    not three sends cut off."""
    in_channel, *queued = claimed(store, 3)
    held = HeldClaims()
    forever = asyncio.Event()

    async def send(claim: Claim) -> None:
        if claim is in_channel:
            held.let_go(claim)  # handed to its channel, which never answers
        await forever.wait()

    for claim in (in_channel, *queued):
        held.start(claim, send)
    thread = StoreThread(store)
    try:
        with caplog.at_level("INFO", logger="dispatcher.dispatch"):
            await drain(held, thread, lambda: NOW, timeout=0.05)
    finally:
        thread.shutdown()
    counts = {r.getMessage(): r.fields["count"] for r in caplog.records}  # type: ignore[attr-defined]
    assert counts == {
        "sends cut off at stop; their outcome is unknown": 1,
        "released unstarted claims": 2,
    }
    assert [outcomes(store, f"C{i}") for i in (1, 2)] == [["released"], ["released"]]
