"""What the daemon says of itself: the queue gauges in /metrics and systemd's STATUS line,
refreshed every ``status_interval`` (readiness is ``health``'s)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from dispatcher.daemon.reader import StoreReader
from dispatcher.dispatch.store_health import StoreHealth, failure_reason
from dispatcher.metrics import Metrics

log = logging.getLogger("dispatcher.daemon")


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


async def count_queue(
    reader: StoreReader, metrics: Metrics, now: datetime, health: StoreHealth | None = None
) -> tuple[int, int]:
    """Count reminders by state into the gauges, on the reader (claims never wait for it);
    returns the queue: (due now, pending). A store failure is reported to ``health`` (call
    ``status``) and raised."""
    health = health or StoreHealth()
    report = await health.call("status", lambda: reader.call(reader.store.status, now))
    by_state: dict[str, int] = {}
    for state, _channel, count in report.by_state_channel:
        by_state[state] = by_state.get(state, 0) + count
    metrics.set_reminders(by_state)
    metrics.due_now.set(report.due_now)
    metrics.set_unknown(report.unknown_by_channel)
    return report.due_now, by_state.get("pending", 0)


async def report_periodically(
    interval: float, refresh: Callable[[], Awaitable[None]], report: Callable[[], None]
) -> None:
    """Every ``interval`` seconds: ``refresh``, then ``report``, also when the refresh
    failed (its store calls report their failures to the store's health, which logs an
    outage once; anything else is logged here)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await refresh()
        except Exception as exc:
            if not is_store_error(exc):
                log.error("status refresh failed", extra={"fields": {"error": failure_reason(exc)}})
        report()


def is_store_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from the database (its driver or SQLAlchemy)."""
    return isinstance(exc, SQLAlchemyError | sqlite3.Error | OSError | TimeoutError)
