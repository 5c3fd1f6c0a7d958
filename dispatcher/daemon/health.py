"""The daemon's health, for /healthz, /readyz and the systemd watchdog, read from state and
never from a store call: the store's health as the daemon's own guarded calls saw it
(``StoreHealth``), and the dispatch loop's liveness (``Liveness``: when it last beat).

While the store's health is in doubt (a call failed, or one has run for over a second) a
monitor probes it every second on a connection of its own with a short timeout — never
through the store threads, which a hung store holds: a hang is seen within seconds, a
recovery within a second or two (and the pauses of the calls waiting to try again are cut
short)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url

from dispatcher.dispatch.store_health import StoreHealth
from dispatcher.metrics import Metrics

# No beat for this long (seconds) and the loop is stalled: /healthz says 503, /readyz says
# why, and the watchdog (fed by the beats) is starved, so systemd restarts the service.
STALL_AFTER = 30.0
PROBE_EVERY = 1.0
PROBE_TIMEOUT = 2.0

Probe = Callable[[], Awaitable[None]]


class Liveness:
    """When the dispatch loop last beat (it beats as it turns and while it waits)."""

    def __init__(self, stall_after: float = STALL_AFTER) -> None:
        self.stall_after = stall_after
        self._last: float | None = None  # monotonic; None until the loop starts
        self.on_beat: Callable[[], None] | None = None  # the watchdog, fed by the loop only

    def beat(self) -> None:
        """The loop turned (or is waiting as it should)."""
        self._last = time.monotonic()
        if self.on_beat is not None:
            self.on_beat()

    def since_beat(self) -> float:
        """Seconds since the last beat (0 before the loop started)."""
        return 0.0 if self._last is None else time.monotonic() - self._last

    def problem(self) -> str | None:
        """``dispatch loop stalled …`` when the loop has not beaten for ``stall_after``."""
        since = self.since_beat()
        if since > self.stall_after:
            return f"dispatch loop stalled: no turn for {since:.0f} s"
        return None


def store_probe(url: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """A probe of the store at ``url`` on a connection of its own, given up after
    ``timeout``: for SQLite, that the write lock can be had; for PostgreSQL, a ``SELECT 1``."""
    if url.startswith("sqlite"):
        database = make_url(url).database or ""

        def sqlite_probe() -> None:
            if not database or database == ":memory:":
                return
            # Waits for the write lock nearly the whole timeout: a long write of this
            # daemon's own (a big claim) is not taken for another writer's lock.
            conn = sqlite3.connect(database, timeout=max(0.1, timeout - 0.2))
            try:
                conn.isolation_level = None
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.close()

        async def probe_file() -> None:
            await asyncio.wait_for(asyncio.to_thread(sqlite_probe), timeout)

        return probe_file
    return _postgres_probe(url, timeout)


def _postgres_probe(url: str, timeout: float) -> Probe:
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "statement_timeout"}
    conninfo = parsed.set(drivername="postgresql", query=query).render_as_string(
        hide_password=False
    )

    async def probe_server() -> None:
        import psycopg

        async def once() -> None:
            conn = await psycopg.AsyncConnection.connect(conninfo, connect_timeout=int(timeout))
            try:
                await conn.execute("SELECT 1")
            finally:
                await conn.close()

        await asyncio.wait_for(once(), timeout)

    return probe_server


class HealthMonitor:
    """Every second: the loop's liveness into /metrics and, while the store is unhealthy,
    a probe whose answer ends (or begins) the outage."""

    def __init__(
        self,
        store: StoreHealth,
        liveness: Liveness,
        probe: Probe | None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.liveness = liveness
        self.probe = probe
        self.metrics = metrics

    async def watch(self) -> None:
        """Run until cancelled."""
        while True:
            await asyncio.sleep(PROBE_EVERY)
            if self.metrics:
                self.metrics.loop_turn_age.set(round(self.liveness.since_beat(), 1))
            if self.probe is not None and self.store.doubtful():
                await self.probe_once()

    async def probe_once(self) -> None:
        """Probe the store once and report the answer."""
        assert self.probe is not None
        try:
            await self.probe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.store.failed("probe", exc)
        else:
            with contextlib.suppress(Exception):
                self.store.succeeded("probe")


def not_ready(stopping: bool | None, store: StoreHealth, liveness: Liveness) -> str | None:
    """Why the daemon is not ready (None when it is), from state only: starting (``stopping``
    None: no loop yet), stopping, the store unhealthy, or the loop stalled."""
    if stopping is None:
        return "starting"
    if stopping:
        return "stopping"
    return store.problem() or liveness.problem()
