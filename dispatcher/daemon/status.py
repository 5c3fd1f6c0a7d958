"""What the daemon says of itself: readiness, the queue gauges in /metrics, and systemd's
STATUS line, refreshed every ``status_interval``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from dispatcher.daemon.reader import StoreReader
from dispatcher.dispatch import Dispatcher, StoreThread
from dispatcher.metrics import Metrics


@dataclass
class Status:
    """The STATUS line's own facts (the last send is the dispatcher's): the queue as last
    counted, and the short reason the last reload was rejected (None once one is accepted)."""

    due: int = 0
    pending: int = 0
    reload_problem: str | None = None

    def line(self, last_send: datetime | None) -> str:
        line = (
            f"{self.due} due, {self.pending} pending; last send {last_send:%Y-%m-%d %H:%M:%S} UTC"
            if last_send
            else f"{self.due} due, {self.pending} pending; no send yet"
        )
        if self.reload_problem:
            line += f"; last reload rejected ({self.reload_problem})"
        return line


async def not_ready(dispatcher: Dispatcher | None, store_thread: StoreThread) -> str | None:
    """Why the daemon is not ready (None when it is): starting, stopping, or a store that does
    not answer within 5 s."""
    if dispatcher is None or dispatcher.stopping:
        return "stopping" if dispatcher else "starting"
    try:
        await asyncio.wait_for(store_thread.call(store_thread.store.ping), timeout=5)
    except Exception as exc:  # any failure to reach the store means not ready
        return f"store unreachable: {type(exc).__name__}"
    return None


async def count_queue(reader: StoreReader, metrics: Metrics, now: datetime) -> tuple[int, int]:
    """Count reminders by state into the gauges, on the reader (claims never wait for it);
    returns the queue: (due now, pending)."""
    report = await reader.call(reader.store.status, now)
    by_state: dict[str, int] = {}
    for state, _channel, count in report.by_state_channel:
        by_state[state] = by_state.get(state, 0) + count
    metrics.reminders.clear()
    for state, count in by_state.items():
        metrics.reminders.labels(state).set(count)
    metrics.due_now.set(report.due_now)
    metrics.set_unknown(report.unknown_by_channel)
    return report.due_now, by_state.get("pending", 0)


async def report_periodically(
    interval: float, refresh: Callable[[], Awaitable[None]], report: Callable[[], None]
) -> None:
    """Every ``interval`` seconds: ``refresh``, then ``report``, also when the refresh
    failed."""
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await refresh()
        report()
