"""The daemon's lifecycle: start, run the scheduler, the dispatch loop and the HTTP server,
reload, stop. ``Daemon`` owns the running state and wires the steps other modules hold:
``claims`` (recovery, renewal, expiry), ``jobs`` (cron jobs, the planner), ``status``
(readiness, gauges, the STATUS line) and ``reload``.

Start: load and check config → open store (schema) → recover attempts a crash left in flight
→ open channels → cron jobs → HTTP → READY=1 → plan what is due to be planned, in the
background (a page per store call, so readiness never waits on it and claims interleave).
The dispatch loop pings the watchdog itself, so a loop that hangs gets the service restarted;
a store that fails does not end it (``health``: readiness from state, outages logged once).
SIGHUP or ``POST /-/reload``: load the whole config again; if it is valid, swap it in between
batches (channels whose settings did not change keep their connections; cron jobs are
reconciled), else log every error, count the failure in /metrics and keep the old config
running. Either way the outcome is kept as the last reload's record (``last_reload``).
SIGTERM/SIGINT: stop claiming, let in-flight sends finish within ``drain_timeout``, release
claims not started, record sends cut off as ``unknown``, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatcher.api.access import CoreAccess
from dispatcher.config import ConfigError
from dispatcher.daemon.control import Control
from dispatcher.daemon.health import HealthMonitor, Liveness, not_ready, store_probe
from dispatcher.daemon.jobs import PlanningRetries, plan_reminders, reconcile_jobs
from dispatcher.daemon.node import (
    node_name,
    recover_claims,
    recover_last_run,
    renew_and_expire_claims,
)
from dispatcher.daemon.notify import Notifier
from dispatcher.daemon.reader import StoreReader
from dispatcher.daemon.reconcile import Reconciler
from dispatcher.daemon.reload import (
    ChannelOpenFailed,
    ReloadRecord,
    Source,
    carry_over_channels,
    close_after_sends,
    close_quietly,
    loaded_at_start,
    report_accepted,
    report_open_failed,
    report_rejected,
)
from dispatcher.daemon.startup import log_started, open_and_upgrade
from dispatcher.daemon.status import Status, count_queue, is_store_error, report_periodically
from dispatcher.daemon.web import HttpServer, build_app, plugin_services
from dispatcher.dispatch.clock import Clock, utcnow
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_health import StoreHealth, failure_reason
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime, load_runtime
from dispatcher.runtime.versions import PROGRAM_VERSION
from dispatcher.store.schema import SCHEMA_VERSION

log = logging.getLogger("dispatcher.daemon")
# How often (seconds) the daemon looks for store statistics its writes outran.
STATISTICS_EVERY = 60.0


class Daemon:
    """One running daemon. It holds the state that changes while it runs (the runtime in
    force, the dispatcher, the scheduler, the HTTP server, the status) and calls the steps
    in order."""

    def __init__(
        self,
        config_dir: str | Path,
        *,
        clock: Clock = utcnow,
        extra_plugins: list[Any] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.clock = clock
        self.extra_plugins = extra_plugins
        self.runtime: Runtime = load_runtime(self.config_dir, extra_plugins=extra_plugins)
        self.store, self.schema_before = open_and_upgrade(self.runtime.config.store_url)
        self.node = node_name(self.runtime.config.dispatcher.node)
        self.metrics = Metrics()
        self.metrics.set_build_info(PROGRAM_VERSION, SCHEMA_VERSION)
        # The last load of the config (this one, until a reload): what /-/reload answers.
        self.last_reload: ReloadRecord = loaded_at_start(self.metrics, self.runtime, clock())
        self.health = StoreHealth(self.metrics)
        self.store_thread = StoreThread(self.store, health=self.health)
        self.store_reader = StoreReader(self.store)
        self.notifier = notifier or Notifier()
        # The watchdog is fed by the loop's beats only: a loop that stalls starves it.
        self.liveness = Liveness()
        self.liveness.on_beat = self.notifier.watchdog
        self.monitor = HealthMonitor(
            self.health, self.liveness, store_probe(self.runtime.config.store_url), self.metrics
        )
        self.dispatcher: Dispatcher | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.http: HttpServer | None = None
        self.status = Status()
        self._background: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        self._plan_lock = asyncio.Lock()  # one planning pass at a time
        self.planning = PlanningRetries(self._spawn)
        # What channels (and plugins' webhooks) may do in this daemon.
        self.services = plugin_services(self.core_access())

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> int:
        """Start, run until stopped, stop; every step after the store opened is undone at
        the end, whatever failed (the exception then goes on)."""
        try:
            return await self._start_and_run()
        finally:
            await self._shut_down()

    async def _start_and_run(self) -> int:
        runtime = self.runtime
        runtime.self_service  # noqa: B018  (its secret read now: a problem logged at start)
        await recover_last_run(self.store_thread, runtime, self.node, self.clock())
        for name, channel in runtime.channels.items():
            channel.attach(self.services)
            self.metrics.set_channel_up(name, False)
            await channel.open()
            self.metrics.set_channel_up(name, True)
        self.dispatcher = Dispatcher(
            self.store_thread,
            runtime,
            clock=self.clock,
            metrics=self.metrics,
            heartbeat=self.liveness.beat,
            node=self.node,
        )
        self.scheduler = AsyncIOScheduler(timezone=runtime.config.dispatcher.timezone)
        self.schedule_jobs(runtime)
        self.scheduler.start()
        if not await self._serve_http(runtime):
            self.dispatcher.stop()
            return 2
        self._handle_signals()
        log_started(self.config_dir, runtime, self.schema_before, self.http)
        with contextlib.suppress(Exception):  # its store failures are the health's to report
            await self.refresh_status()
        interval = self.runtime.config.dispatcher.status_interval.total_seconds()
        self._spawn(report_periodically(interval, self.refresh_status, self._report_status))
        self._spawn(self.monitor.watch())
        settle_collector()
        self.notifier.ready(self._status_line())
        self._spawn(self.plan())
        self._spawn(self._keep_statistics())
        # Unknown attempts asked of their channels, in the background: READY never waits.
        self._spawn(
            Reconciler(self.store_thread, lambda: self.runtime, self.clock).run_periodically()
        )
        await self.dispatcher.run()
        return 0

    async def _serve_http(self, runtime: Runtime) -> bool:
        """Start the HTTP server if it is enabled; False when it cannot listen."""
        http = runtime.config.dispatcher.http
        if not http.enabled:
            return True
        app = build_app(
            self.metrics, self.ready, self.core_access(), alive=self.alive, control=self.control()
        )
        self.http = HttpServer(app, http.listen)
        try:
            await self.http.start()
        except OSError as exc:
            log.error(
                "cannot listen; set [http] listen in dispatcher.toml",
                extra={"fields": {"listen": http.listen, "error": exc.strerror}},
            )
            self.http = None
            return False
        return True

    def _handle_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)

    async def _shut_down(self) -> None:
        self.notifier.stopping()
        for task in self._background:
            task.cancel()
        if self.scheduler:
            self.scheduler.shutdown(wait=False)
        if self.http:
            await self.http.stop()
        # Sends cut off by the drain timeout stay claimed: record them as unknown now (a
        # store that refuses leaves them to the next start's recovery).
        try:
            await recover_claims(self.store_thread, self.runtime, self.node, self.clock())
        except Exception as exc:
            log.error(
                "could not settle this node's claims at stop; the next start does",
                extra={"fields": {"error": failure_reason(exc)}},
            )
        await close_quietly(list(self.runtime.channels.values()))
        self.store_thread.shutdown()
        self.store_reader.shutdown()
        self.store.close()
        counters = self.dispatcher.counters if self.dispatcher else None
        log.info(
            "dispatcher stopped",
            extra={
                "fields": {
                    "sent": counters.sent if counters else 0,
                    "deferred": counters.deferred if counters else 0,
                    "suppressed": counters.suppressed if counters else 0,
                }
            },
        )

    def stop(self) -> None:
        log.info("stop requested; draining")
        if self.dispatcher:
            self.dispatcher.stop()

    def core_access(self) -> CoreAccess:
        """What the core's HTTP handlers (the API) may use of this daemon."""
        return CoreAccess(
            store=self.store,
            call=self.store_thread.call,
            read=self.store_reader.call,
            runtime=lambda: self.runtime,
            clock=self.clock,
            metrics=self.metrics,
            changed=self._changed,
            last_reload=lambda: self.last_reload,
        )

    def control(self) -> Control:
        """What the operator's ``/-/`` routes may do: reload, read the last reload."""
        return Control(reload=self._reload_asked, last_reload=lambda: self.last_reload)

    def _changed(self, case_id: str | None, person_id: str | None) -> None:
        if self.dispatcher:
            self.dispatcher.changed(case_id=case_id, person_id=person_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- jobs -------------------------------------------------------------------------------

    async def plan(self) -> None:
        """A planning pass with the schedules in force (after any pass under way), as the
        cron job, a reload and the start run it: one that fails is logged and tried again
        later, never raised."""
        await self.planning.run(self._plan_once)

    async def _plan_once(self) -> None:
        async with self._plan_lock:
            await plan_reminders(self.store_thread, self.runtime, self.clock(), self._wake)

    async def _keep_statistics(self) -> None:
        """At start and every ``STATISTICS_EVERY`` seconds, on the reader (claims go on
        meanwhile): the store's statistics refreshed where its writes outran them, whatever
        wrote the rows (an import, planning, the API, the claims themselves)."""
        while True:
            try:
                tables = await self.store_reader.call(self.store.refresh_statistics)
            except Exception as exc:  # the next round tries again
                if not is_store_error(exc):  # an outage is the store's health's to report
                    log.error(
                        "store statistics not refreshed",
                        extra={"fields": {"error": failure_reason(exc)}},
                    )
            else:
                if tables:
                    log.info(
                        "store statistics refreshed", extra={"fields": {"tables": ",".join(tables)}}
                    )
            await asyncio.sleep(STATISTICS_EVERY)

    def _wake(self) -> None:
        if self.dispatcher:
            self.dispatcher.wake()

    def schedule_jobs(self, runtime: Runtime) -> None:
        """Make the scheduler's jobs match ``runtime``'s config: add, change, remove."""
        assert self.scheduler is not None
        reconcile_jobs(self.scheduler, runtime, {"plan": self.plan})

    # -- health and status --------------------------------------------------------------------

    async def ready(self) -> tuple[bool, str]:
        """Readiness, from state only (never a store call): started, not stopping, the
        store answering the daemon's calls, the loop turning."""
        stopping = self.dispatcher.stopping if self.dispatcher else None
        problem = not_ready(stopping, self.health, self.liveness)
        if problem is not None:
            return False, problem
        return True, f"config {self.runtime.version}"

    def alive(self) -> str | None:
        """Why the dispatch loop is not alive (stalled), None while it turns: /healthz."""
        return self.liveness.problem()

    async def refresh_status(self) -> None:
        """Renew this node's claims, expire a vanished node's, count the queue."""
        await renew_and_expire_claims(self.store_thread, self.runtime, self.node, self.clock)
        queue = await count_queue(self.store_reader, self.metrics, self.clock(), self.health)
        self.status.due, self.status.pending = queue

    def _status_line(self) -> str:
        return self.status.line(self.dispatcher.counters.last_send if self.dispatcher else None)

    def _report_status(self) -> None:
        self.notifier.status(self._status_line())

    # -- reload -----------------------------------------------------------------------------

    def _reload_soon(self) -> None:
        self._spawn(self.reload())

    async def reload(self, source: Source = "signal") -> bool:
        """Load the config directory again and swap it in if valid (then plan with the new
        schedules). Returns whether it was."""
        record = await self.apply_reload(source)
        if record.ok:
            await self._after_reload()
        return record.ok

    async def _reload_asked(self) -> ReloadRecord:
        """``POST /-/reload``: answered once the config is swapped in (or refused); the
        planning pass that follows runs in the background."""
        record = await self.apply_reload("http")
        if record.ok:
            self._spawn(self._after_reload())
        return record

    async def apply_reload(self, source: Source) -> ReloadRecord:
        """One reload at a time: load, check, swap in or refuse; kept as ``last_reload``."""
        async with self._reload_lock:
            self.notifier.reloading()
            record = await self._load_and_swap(source)
            self.last_reload = record
            self.status.reload_problem = record.summary or None
            self.notifier.ready(self._status_line())
        return record

    async def _load_and_swap(self, source: Source) -> ReloadRecord:
        old, at = self.runtime, self.clock()
        try:
            new = await asyncio.to_thread(
                load_runtime, self.config_dir, extra_plugins=self.extra_plugins
            )
        except ConfigError as exc:
            return report_rejected(self.metrics, exc, old, source, at)
        for channel in new.channels.values():
            channel.attach(self.services)  # before open; a channel carried over has it
        try:
            retired = await carry_over_channels(old, new)
        except ChannelOpenFailed as exc:
            return report_open_failed(self.metrics, exc, old, source, at)
        self._swap_in(new)
        drain = old.config.dispatcher.dispatch.drain_timeout
        self._spawn(close_after_sends(retired, self.dispatcher, drain))
        return report_accepted(self.metrics, old, new, len(retired), source, at)

    async def _after_reload(self) -> None:
        await self.plan()  # schedules may have changed
        if self.dispatcher:
            self.dispatcher.wake()

    def _swap_in(self, new: Runtime) -> None:
        self.runtime = new
        new.self_service  # noqa: B018  (the new secret read now, its problem logged)
        if self.dispatcher:
            self.dispatcher.runtime = new
        if self.scheduler:
            self.schedule_jobs(new)


# Young objects collected every 10,000 allocations, not 700: a claim of 500 makes some 20,000
# objects, all freed by reference counting when its batch is done; at 700 most were promoted
# before then and a full collection, every few claims, traversed them (40-60 ms at a time).
GC_THRESHOLDS = (10_000, 10, 10)


def settle_collector() -> None:
    """Once started: what start built (config, policy, plugins, compiled SQL) lives as long
    as the process, so it is moved out of the cyclic collector's sight (``gc.freeze``), and
    the young generation is widened to a batch's size."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
