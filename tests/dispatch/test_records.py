"""The record stage over a real SQLite file: outcomes held until a flush writes them, kept
when the store refuses, counted in the metrics and shown to ``on_attempt`` observers; the
flusher writes at once an outcome that holds its channel's capacity, and when ``FLUSH_AT``
wait, and at stop writes what it holds, trying a refused write again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from dispatcher.channel import SendResult
from dispatcher.dispatch.outcomes import sent
from dispatcher.dispatch.records import FLUSH_AT, Records, next_write
from dispatcher.dispatch.store_health import StoreHealth
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.hookspecs import hookimpl
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime, load_runtime
from dispatcher.store.api import SendRecord, Store
from tests.conftest import EXAMPLE_CONFIG
from tests.dispatch.conftest import NOW, claimed, outcomes


class Observer:
    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []

    @hookimpl
    def on_attempt(
        self, attempt_id: str, channel: str, outcome: str, error_code: str | None
    ) -> None:
        self.attempts.append((channel, outcome))


async def test_outcomes_are_written_when_flushed_and_kept_when_the_store_refuses(
    store: Store, tmp_path: Path
) -> None:
    claims = claimed(store, 2)
    observer = Observer()
    runtime: Runtime = load_runtime(EXAMPLE_CONFIG, extra_plugins=[observer])
    metrics = Metrics()
    written: list[str] = []
    thread = StoreThread(store, health=StoreHealth(metrics))
    records = Records(
        thread, lambda: runtime, node="a", metrics=metrics, written=lambda: written.append("w")
    )
    real_record = store.record

    def refuse(records: Sequence[SendRecord], node: str = "") -> None:
        raise RuntimeError("database is locked")

    try:
        for claim in claims:
            records.add(sent(claim, SendResult(provider_id="SM1"), NOW))
        assert outcomes(store, "C0") == ["reserved"], "held, not written yet"
        store.record = refuse  # type: ignore[method-assign]
        assert await records.flush() is False
        assert (written, observer.attempts) == ([], [])
        store.record = real_record  # type: ignore[method-assign]
        assert await records.flush() is True
        assert await records.flush() is True, "nothing left to write"
    finally:
        thread.shutdown()
    assert outcomes(store, "C0") == outcomes(store, "C1") == ["placed"]
    assert written == ["w"]
    assert observer.attempts == [("sms", "placed")] * 2
    placed = {"channel": "sms", "outcome": "placed"}
    assert metrics.registry.get_sample_value("dispatcher_attempts_total", placed) == 2
    refused = {"call": "record"}
    assert metrics.registry.get_sample_value("dispatcher_store_errors_total", refused) == 1


def runtime_recording_every(interval: timedelta) -> Runtime:
    runtime = load_runtime(EXAMPLE_CONFIG)
    dispatch = runtime.config.dispatcher.dispatch.model_copy(update={"record_interval": interval})
    settings = runtime.config.dispatcher.model_copy(update={"dispatch": dispatch})
    return dataclasses.replace(
        runtime, config=dataclasses.replace(runtime.config, dispatcher=settings)
    )


def records_every(store: Store, interval: timedelta) -> tuple[StoreThread, Records]:
    """A store thread on ``store`` and outcomes written at most every ``interval``."""
    runtime = runtime_recording_every(interval)
    thread = StoreThread(store)
    return thread, Records(thread, lambda: runtime, node="a", metrics=None, written=lambda: None)


async def test_the_first_outcome_is_written_at_once_the_next_after_the_interval_or_flush_at(
    store: Store,
) -> None:
    runtime = runtime_recording_every(timedelta(hours=1))
    claims = claimed(store, 3)
    thread = StoreThread(store)
    written = asyncio.Event()
    records = Records(thread, lambda: runtime, node="a", metrics=None, written=written.set)
    records.start()
    try:
        records.add(sent(claims[0], SendResult(provider_id="SM1"), NOW))
        await asyncio.wait_for(written.wait(), timeout=10)
        assert outcomes(store, "C0") == ["placed"], "none written lately: at once"
        written.clear()
        records.add(sent(claims[1], SendResult(provider_id="SM2"), NOW))
        await asyncio.sleep(0.2)
        assert outcomes(store, "C1") == ["reserved"], "one written lately: waits for the interval"
        # Enough outcomes waiting kick the flusher (the same one again: the store's update
        # is idempotent, and a count is all that matters here).
        for _ in range(FLUSH_AT - 2):
            records.add(sent(claims[1], SendResult(provider_id="SM2"), NOW))
        records.add(sent(claims[2], SendResult(provider_id="SM3"), NOW))
        await asyncio.wait_for(written.wait(), timeout=10)
        assert outcomes(store, "C1") == outcomes(store, "C2") == ["placed"]
    finally:
        await records.finish()
        thread.shutdown()


async def test_an_outcome_holding_capacity_is_written_at_once_and_only_then_gives_it_back(
    store: Store,
) -> None:
    """The next message on a channel's capacity (a pool connection) waits for the previous
    outcome's write: that write never waits for ``record_interval`` (an hour here), and the
    capacity comes back only once the outcome is in the store."""
    runtime = runtime_recording_every(timedelta(hours=1))
    claims = claimed(store, 3)
    thread = StoreThread(store)
    written = asyncio.Event()
    records = Records(thread, lambda: runtime, node="a", metrics=None, written=written.set)
    given_back: list[tuple[str, list[str]]] = []

    def give_back(case: str) -> None:
        given_back.append((case, outcomes(store, case)))

    records.start()
    try:
        records.add(sent(claims[0], SendResult(provider_id="SM1"), NOW), lambda: give_back("C0"))
        await asyncio.wait_for(written.wait(), timeout=10)
        written.clear()
        # One written just now; an outcome without capacity waits for the interval, and goes
        # with the next one that holds capacity, written at once.
        records.add(sent(claims[1], SendResult(provider_id="SM2"), NOW))
        records.add(sent(claims[2], SendResult(provider_id="SM3"), NOW), lambda: give_back("C2"))
        await asyncio.wait_for(written.wait(), timeout=10)
        assert outcomes(store, "C1") == outcomes(store, "C2") == ["placed"]
    finally:
        await records.finish()
        thread.shutdown()
    assert given_back == [("C0", ["placed"]), ("C2", ["placed"])], "each given back once written"


def test_the_next_write_waits_the_interval_unless_capacity_waits_and_never_a_refusal_backoff() -> (
    None
):
    inf = float("inf")
    # (last write, refused until, interval, at once, now) → when the next write may start
    cases = [
        ((-inf, -inf, 0.05, False, 10.0), 10.0),  # none written yet: now
        ((9.99, -inf, 0.05, False, 10.0), 10.04),  # written lately: one interval after it
        ((9.99, -inf, 0.05, True, 10.0), 10.0),  # capacity waits for it: now
        ((9.0, 12.0, 0.05, True, 10.0), 12.0),  # refused: not before the backoff, even so
        ((9.0, 12.0, 0.05, False, 10.0), 12.0),
    ]
    for (written_at, refused_until, interval, at_once, now), expected in cases:
        due = next_write(written_at, refused_until, interval, at_once=at_once, now=now)
        assert abs(due - expected) < 1e-9, (written_at, refused_until, at_once, due)


async def test_at_stop_what_the_flusher_holds_is_written_and_a_refusal_tried_again(
    store: Store,
) -> None:
    claims = claimed(store, 2)
    thread, records = records_every(store, timedelta(hours=1))
    real_record = store.record
    refusals: list[int] = []

    def refuse_once(batch: Sequence[SendRecord], node: str = "") -> None:
        if not refusals:
            refusals.append(len(batch))
            raise RuntimeError("database is locked")
        real_record(batch, node)

    store.record = refuse_once  # type: ignore[method-assign]
    given_back: list[str] = []
    records.start()
    try:
        for claim in claims:
            records.add(
                sent(claim, SendResult(provider_id="SM1"), NOW),
                lambda: given_back.append("capacity"),
            )
        assert outcomes(store, "C0") == ["reserved"]
        await records.finish()
    finally:
        thread.shutdown()
    assert refusals == [2], "the flusher tried once at stop, and was refused"
    assert outcomes(store, "C0") == outcomes(store, "C1") == ["placed"]
    assert given_back == ["capacity"] * 2


async def test_a_refused_write_keeps_the_capacity_until_the_end_then_gives_it_back(
    store: Store,
) -> None:
    claims = claimed(store, 1)
    thread, records = records_every(store, timedelta(milliseconds=1))
    tries = asyncio.Event()

    def refuse(batch: Sequence[SendRecord], node: str = "") -> None:
        tries.set()
        raise RuntimeError("database is locked")

    store.record = refuse  # type: ignore[method-assign]
    given_back: list[str] = []
    records.start()
    try:
        records.add(
            sent(claims[0], SendResult(provider_id="SM1"), NOW),
            lambda: given_back.append("capacity"),
        )
        await asyncio.wait_for(tries.wait(), timeout=10)
        assert given_back == [], "the outcome is not written: its capacity stays taken"
        await records.finish()
    finally:
        thread.shutdown()
    assert outcomes(store, "C0") == ["reserved"], "never written: unknown at the next start"
    assert given_back == ["capacity"], "given back at the end all the same"


class FailingObserver:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def on_attempt(
        self, attempt_id: str, channel: str, outcome: str, error_code: str | None
    ) -> None:
        self.calls += 1
        raise ValueError("an observer's own bug")


async def test_an_observer_that_raises_does_not_stop_the_flusher(store: Store) -> None:
    observer = FailingObserver()
    runtime = load_runtime(EXAMPLE_CONFIG, extra_plugins=[observer])
    claims = claimed(store, 2)
    thread = StoreThread(store)
    written = asyncio.Event()
    records = Records(thread, lambda: runtime, node="a", metrics=None, written=written.set)
    records.start()
    try:
        records.add(sent(claims[0], SendResult(provider_id="SM1"), NOW))
        await asyncio.wait_for(written.wait(), timeout=10)
        written.clear()
        records.add(sent(claims[1], SendResult(provider_id="SM2"), NOW))
        await asyncio.wait_for(written.wait(), timeout=10)
    finally:
        await records.finish()
        thread.shutdown()
    assert observer.calls == 2, "each write was shown to the observer"
    assert outcomes(store, "C0") == outcomes(store, "C1") == ["placed"]


async def test_a_release_refused_at_stop_still_writes_the_last_outcomes(store: Store) -> None:
    from dispatcher.dispatch.loop import Dispatcher

    claims = claimed(store, 2)
    thread = StoreThread(store)
    dispatcher = Dispatcher(thread, load_runtime(EXAMPLE_CONFIG), clock=lambda: NOW, node="a")

    def refuse(claims: Sequence[object], now: object) -> None:
        raise RuntimeError("database is locked")

    store.release = refuse  # type: ignore[method-assign]
    dispatcher._records.start()
    dispatcher._held.hold(claims[1])  # claimed, never sent: the drain releases it
    dispatcher._records.add(sent(claims[0], SendResult(provider_id="SM1"), NOW))
    try:
        await dispatcher._stop_stages(drain_timeout=0.1)
    finally:
        thread.shutdown()
    assert outcomes(store, "C0") == ["placed"], "the send was recorded"
    assert outcomes(store, "C1") == ["reserved"], "left for the recovery at stop or start"
