"""The store's health and the loop's liveness, in process: an outage is logged once and its
end with its length; readiness answers from state while the store thread is held; a loop
that stops beating is reported stalled; the loop goes on through failing store calls."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from dispatcher.daemon import Daemon
from dispatcher.daemon.health import Liveness
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_health import StoreHealth
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.runtime import load_runtime
from dispatcher.store import open_store
from tests.conftest import Deployment, seed


async def test_an_outage_is_logged_once_and_its_end_with_its_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    health = StoreHealth(metrics)

    async def refused() -> None:
        raise ConnectionRefusedError("connection refused\nSELECT secret FROM people")

    async def answered() -> int:
        return 1

    caplog.set_level(logging.INFO, logger="dispatcher.store")
    for site in ("claim", "claim", "record"):
        with pytest.raises(ConnectionRefusedError):
            await health.call(site, refused)
    problem = health.problem()
    assert problem is not None and problem.startswith("store unreachable since ")
    assert "ConnectionRefusedError: connection refused" in problem and "SELECT" not in problem
    assert metrics.registry.get_sample_value("dispatcher_store_up") == 0
    assert await health.call("claim", answered) == 1
    assert health.problem() is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("store unreachable; store calls are retried until it answers") == 1
    assert messages.count("store reachable again") == 1
    errors = metrics.registry.get_sample_value
    assert errors("dispatcher_store_errors_total", {"call": "claim"}) == 2
    assert errors("dispatcher_store_errors_total", {"call": "record"}) == 1
    assert metrics.registry.get_sample_value("dispatcher_store_up") == 1


async def test_a_pause_ends_at_the_recovery(tmp_path: Any) -> None:
    health = StoreHealth()
    health.failed("claim", OSError("down"))
    for _ in range(10):
        health.failed("claim", OSError("down"))  # its backoff is now the longest
    pausing = asyncio.ensure_future(health.pause("claim"))
    await asyncio.sleep(0)
    health.succeeded("probe")
    await asyncio.wait_for(pausing, timeout=5)  # well before the 10 s backoff


async def test_readiness_answers_from_state_while_the_store_thread_is_held(
    open_deployment: Deployment,
) -> None:
    daemon = Daemon(open_deployment.config)
    daemon.dispatcher = Dispatcher(daemon.store_thread, daemon.runtime, node="a")
    held = threading.Event()
    blocked = asyncio.ensure_future(daemon.store_thread.call(held.wait, 30))
    try:
        await asyncio.sleep(0.05)
        # Not a store call: the answer comes while the only store thread is held.
        ready, detail = await asyncio.wait_for(daemon.ready(), timeout=4)
        assert ready, detail
        daemon.health.failed("claim", TimeoutError())
        ready, detail = await asyncio.wait_for(daemon.ready(), timeout=4)
        assert not ready and detail.startswith("store unreachable since ")
    finally:
        held.set()
        await blocked
        daemon.store_thread.shutdown()
        daemon.store.close()


def test_a_loop_that_stops_beating_is_stalled() -> None:
    beats: list[float] = []
    liveness = Liveness(stall_after=0.05)
    liveness.on_beat = lambda: beats.append(1)
    assert liveness.problem() is None, "not started yet"
    liveness.beat()
    assert liveness.problem() is None and beats == [1]
    time.sleep(0.1)
    problem = liveness.problem()
    assert problem is not None and problem.startswith("dispatch loop stalled")


async def test_the_loop_goes_on_through_failing_store_calls(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 20)
    runtime = load_runtime(dep.config)
    store = open_store(dep.url)
    failures = {"next_due_at": 2, "claim_due": 2}
    for name in failures:
        real = getattr(store, name)

        def failing(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            if failures[_name] > 0:
                failures[_name] -= 1
                raise OSError("the store is unreachable")
            return _real(*args, **kwargs)

        setattr(store, name, failing)
    thread = StoreThread(store)
    for channel in runtime.channels.values():
        await channel.open()
    dispatcher = Dispatcher(thread, runtime, node="a")
    running = asyncio.ensure_future(dispatcher.run())
    try:
        for _ in range(600):
            if dispatcher.counters.sent >= 20 or running.done():
                break
            await asyncio.sleep(0.05)
        assert not running.done(), "the loop ended"
        assert dispatcher.counters.sent == 20
        assert failures == {"next_due_at": 0, "claim_due": 0}
    finally:
        dispatcher.stop()
        await running
        for channel in runtime.channels.values():
            await channel.close()
        thread.shutdown()
        store.close()
