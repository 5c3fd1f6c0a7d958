"""The store reader: status, the queue gauges and a case's history are answered while the
store thread is busy holding a write transaction (SQLite's write lock, or a PostgreSQL
transaction), and the reader refuses to run anything but a read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatcher.daemon.reader import StoreReader
from dispatcher.daemon.status import count_queue
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from tests.store import test_store
from tests.store.test_store import NOW, _people, always

store = test_store.store


def _hold_the_write_lock(store, taken: threading.Event, release: threading.Event) -> None:  # type: ignore[no-untyped-def]
    with store._write() as conn:
        conn.execute(select(1))
        taken.set()
        release.wait()


@asynccontextmanager
async def busy_store_thread(  # type: ignore[no-untyped-def]
    store, thread: StoreThread | None = None
) -> AsyncIterator[asyncio.Future[None]]:
    """``thread`` (a store thread of its own if None) inside a write transaction of
    ``store`` until the block ends."""
    own = thread is None
    thread = thread or StoreThread(store)
    taken, release = threading.Event(), threading.Event()
    busy = asyncio.ensure_future(thread.call(_hold_the_write_lock, store, taken, release))
    try:
        assert await asyncio.to_thread(taken.wait, 30), "the store thread took the write lock"
        yield busy
    finally:
        release.set()
        if own:
            thread.shutdown()


async def test_status_and_history_are_read_while_the_writer_is_busy(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 3)
    store.claim_due(NOW, 1, always(), timedelta(0))
    reader = StoreReader(store)
    metrics = Metrics()
    try:
        async with busy_store_thread(store) as busy:
            due, pending = await asyncio.wait_for(count_queue(reader, metrics, NOW), 30)
            history = await asyncio.wait_for(reader.call(store.case_history, "C0"), 30)
            assert not busy.done(), "the writer was still holding its transaction"
        await busy
    finally:
        reader.shutdown()
    assert (due, pending) == (2, 2)
    assert metrics.reminders.labels("claimed")._value.get() == 1
    assert history.case.id == "C0"


async def test_the_reader_runs_only_reads_of_its_store(store) -> None:  # type: ignore[no-untyped-def]
    reader = StoreReader(store)
    try:
        with pytest.raises(ValueError, match="'claim_due' is not a read"):
            await reader.call(store.claim_due, NOW, 1, always(), timedelta(0))
        with pytest.raises(ValueError, match="not a read"):
            await reader.call(print, "x")
        assert (await reader.call(store.status, NOW)).by_state_channel == []
    finally:
        reader.shutdown()
