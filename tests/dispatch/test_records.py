"""The record stage over a real SQLite file: outcomes held until a flush writes them, kept
when the store refuses, counted in the metrics and shown to ``on_attempt`` observers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dispatcher.channel import SendResult
from dispatcher.dispatch.outcomes import sent
from dispatcher.dispatch.records import Records
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
    thread = StoreThread(store)
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
