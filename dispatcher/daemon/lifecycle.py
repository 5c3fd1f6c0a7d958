"""The daemon's lifecycle: start, run the scheduler, the dispatch loop and the HTTP server,
reload, stop.

Start: load and check config → open store (schema) → recover attempts a crash left in flight
→ open channels → plan once → cron jobs → HTTP → READY=1. The dispatch loop pings the
watchdog itself, so a loop that hangs gets the service restarted.
SIGHUP: load the whole config again; if it is valid, swap it in between batches (channels
whose settings did not change keep their connections; cron jobs are reconciled), else log
every error, count the failure in /metrics and keep the old config running.
SIGTERM/SIGINT: stop claiming, let in-flight sends finish within ``drain_timeout``, release
claims not started, record sends cut off as ``unknown``, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatcher.channel import Channel
from dispatcher.config import ConfigError
from dispatcher.daemon.notify import Notifier
from dispatcher.daemon.web import HttpServer, build_app
from dispatcher.dispatch import Clock, Dispatcher, StoreThread, utcnow
from dispatcher.metrics import Metrics
from dispatcher.planner import run_planner
from dispatcher.runtime import Runtime, load_runtime
from dispatcher.services import CoreAccess
from dispatcher.store import open_store

log = logging.getLogger("dispatcher.daemon")


def node_name(configured: str) -> str:
    """This daemon's name on its claims: $DISPATCHER_NODE, else ``node`` in dispatcher.toml,
    else the host name. Stable across restarts, so a restarted daemon finds its own claims."""
    return os.environ.get("DISPATCHER_NODE") or configured or socket.gethostname()


class Daemon:
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
        self.store = open_store(self.runtime.config.store_url)
        self.node = node_name(self.runtime.config.dispatcher.node)
        self.store_thread = StoreThread(self.store)
        self.notifier = notifier or Notifier()
        self.metrics = Metrics()
        self.metrics.set_config_version(self.runtime.version)
        self.dispatcher: Dispatcher | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.http: HttpServer | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        self._last_problem: str | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> int:
        runtime = self.runtime
        report = await self.store_thread.call(
            self.store.recover, self.clock(), runtime.resend_on_unknown, self.node
        )
        if report.unknown or report.requeued or report.released:
            log.warning(
                "attempts left in flight by the last run",
                extra={
                    "fields": {
                        "unknown": report.unknown,
                        "requeued": report.requeued,
                        "released": report.released,
                    }
                },
            )
        for channel in runtime.channels.values():
            await channel.open()
        self.dispatcher = Dispatcher(
            self.store_thread,
            runtime,
            clock=self.clock,
            metrics=self.metrics,
            heartbeat=self.notifier.watchdog,
            node=self.node,
        )
        await self.plan()
        self.scheduler = AsyncIOScheduler(timezone=runtime.config.dispatcher.timezone)
        self.schedule_jobs(runtime)
        self.scheduler.start()
        http = runtime.config.dispatcher.http
        if http.enabled:
            app = build_app(self.metrics, self.ready, self.core_access())
            self.http = HttpServer(app, http.listen)
            try:
                await self.http.start()
            except OSError as exc:
                log.error(
                    "cannot listen; set [http] listen in dispatcher.toml",
                    extra={"fields": {"listen": http.listen, "error": exc.strerror}},
                )
                self.http = None
                self.dispatcher.stop()
                await self._shut_down()
                return 2

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        log.info(
            "dispatcher started",
            extra={
                "fields": {
                    "config": str(self.config_dir),
                    "version": runtime.version,
                    "channels": ",".join(runtime.channels),
                    "pid": os.getpid(),
                }
            },
        )
        await self.refresh_status()
        self._spawn(self._report_status_periodically())
        self.notifier.ready(self._status_line())
        try:
            await self.dispatcher.run()
        finally:
            await self._shut_down()
        return 0

    async def _shut_down(self) -> None:
        self.notifier.stopping()
        for task in self._background:
            task.cancel()
        if self.scheduler:
            self.scheduler.shutdown(wait=False)
        if self.http:
            await self.http.stop()
        # Sends cut off by the drain timeout stay claimed: record them as unknown now.
        await self.store_thread.call(
            self.store.recover, self.clock(), self.runtime.resend_on_unknown, self.node
        )
        for channel in self.runtime.channels.values():
            await channel.close()
        self.store_thread.shutdown()
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
            runtime=lambda: self.runtime,
            clock=self.clock,
            metrics=self.metrics,
            changed=self._changed,
        )

    def _changed(self, case_id: str | None, person_id: str | None) -> None:
        if self.dispatcher:
            self.dispatcher.changed(case_id=case_id, person_id=person_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- jobs -------------------------------------------------------------------------------

    async def plan(self) -> None:
        runtime = self.runtime
        created = await self.store_thread.call(
            run_planner,
            self.store,
            runtime.config.schedules,
            runtime.config.dispatcher.fallback_timezone,
            self.clock(),
        )
        if created:
            log.info("planned reminders", extra={"fields": {"created": created}})
            if self.dispatcher:
                self.dispatcher.wake()

    JOBS = {"plan": "plan"}  # job name in schedules.toml → Daemon method

    def schedule_jobs(self, runtime: Runtime) -> None:
        """Make the scheduler's jobs match ``runtime``'s config: add, change, remove."""
        assert self.scheduler is not None
        zone = runtime.config.dispatcher.timezone
        wanted = {name: job for name, job in runtime.config.schedules.jobs.items() if job.enabled}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for name, job in wanted.items():
            self.scheduler.add_job(
                getattr(self, self.JOBS[name]),
                CronTrigger.from_crontab(job.cron, timezone=zone),
                id=name,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
            )

    # -- health and status --------------------------------------------------------------------

    async def ready(self) -> tuple[bool, str]:
        """Readiness: config loaded, store answering, not stopping."""
        if self.dispatcher is None or self.dispatcher.stopping:
            return False, "stopping" if self.dispatcher else "starting"
        try:
            await asyncio.wait_for(self.store_thread.call(self.store.ping), timeout=5)
        except Exception as exc:  # any failure to reach the store means not ready
            return False, f"store unreachable: {type(exc).__name__}"
        return True, f"config {self.runtime.version}"

    async def refresh_status(self) -> None:
        settings = self.runtime.config.dispatcher.dispatch
        # Ours first: this node is alive, so its claims must not expire under it.
        await self.store_thread.call(self.store.renew_claims, self.node, self.clock())
        expired = await self.store_thread.call(
            self.store.expire_claims,
            self.clock(),
            self.runtime.resend_on_unknown,
            settings.claim_lease,
        )
        if expired.unknown or expired.requeued or expired.released:
            log.warning(
                "claims of a vanished node expired",
                extra={
                    "fields": {
                        "unknown": expired.unknown,
                        "requeued": expired.requeued,
                        "released": expired.released,
                    }
                },
            )
        report = await self.store_thread.call(self.store.status, self.clock())
        by_state: dict[str, int] = {}
        for state, _channel, count in report.by_state_channel:
            by_state[state] = by_state.get(state, 0) + count
        self.metrics.reminders.clear()
        for state, count in by_state.items():
            self.metrics.reminders.labels(state).set(count)
        self.metrics.due_now.set(report.due_now)
        self.metrics.unknown.set(len(report.unknown_attempts))
        self._queue = (report.due_now, by_state.get("pending", 0))

    def _status_line(self) -> str:
        due, pending = getattr(self, "_queue", (0, 0))
        last = self.dispatcher.counters.last_send if self.dispatcher else None
        line = (
            f"{due} due, {pending} pending; last send {last:%Y-%m-%d %H:%M:%S} UTC"
            if last
            else f"{due} due, {pending} pending; no send yet"
        )
        if self._last_problem:
            line += f"; last reload rejected ({self._last_problem})"
        return line

    async def _report_status_periodically(self) -> None:
        interval = self.runtime.config.dispatcher.status_interval.total_seconds()
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await self.refresh_status()
            self.notifier.status(self._status_line())

    # -- reload -----------------------------------------------------------------------------

    def _reload_soon(self) -> None:
        self._spawn(self.reload())

    async def reload(self) -> bool:
        """Load the config directory again and swap it in if valid. Returns whether it was."""
        async with self._reload_lock:
            self.notifier.reloading()
            try:
                new = await asyncio.to_thread(
                    load_runtime, self.config_dir, extra_plugins=self.extra_plugins
                )
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload rejected", extra={"fields": {"problem": str(problem)}})
                self.metrics.reloads.labels("failure").inc()
                self.metrics.config_ok.set(0)
                self._last_problem = f"{len(exc.problems)} problem(s)"
                self.notifier.ready(self._status_line())
                return False
            old = self.runtime
            retired = await self._carry_over_channels(old, new)
            self.runtime = new
            if self.dispatcher:
                self.dispatcher.runtime = new
            if self.scheduler:
                self.schedule_jobs(new)
            self._spawn(self._close_after_sends(retired, old))
            self.metrics.reloads.labels("success").inc()
            self.metrics.config_ok.set(1)
            self.metrics.set_config_version(new.version)
            self._last_problem = None
            log.info(
                "config reloaded",
                extra={
                    "fields": {
                        "version": new.version,
                        "channels": ",".join(new.channels),
                        "reopened": len(retired),
                    }
                },
            )
            self.notifier.ready(self._status_line())
        await self.plan()  # schedules may have changed
        if self.dispatcher:
            self.dispatcher.wake()
        return True

    async def _carry_over_channels(self, old: Runtime, new: Runtime) -> list[Channel]:
        """Keep each old channel whose plugin and settings are unchanged (its connections stay
        open); open the new ones. Returns the old channels to close."""
        retired: list[Channel] = []
        old_settings = old.config.dispatcher.channels
        new_settings = new.config.dispatcher.channels
        for name, channel in old.channels.items():
            same = (
                name in new.channels
                and old_settings[name] == new_settings[name]
                and old.config.channel_settings.get(name) == new.config.channel_settings.get(name)
            )
            if same:
                new.channels[name] = channel
            else:
                retired.append(channel)
        kept = set(map(id, old.channels.values()))
        for channel in new.channels.values():
            if id(channel) not in kept:
                await channel.open()
        return retired

    async def _close_after_sends(self, channels: list[Channel], old: Runtime) -> None:
        # Sends already under way hold the old channel objects; close those once they finish.
        if self.dispatcher is not None:
            await self.dispatcher.settle(
                old.config.dispatcher.dispatch.drain_timeout.total_seconds()
            )
        for channel in channels:
            await channel.close()
