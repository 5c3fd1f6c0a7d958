"""The daemon's lifecycle: start, run the scheduler and the dispatch loop, reload, stop.

Start: load and check config → open store (schema) → recover attempts a crash left in flight
→ open channels → plan once → start cron jobs and the loop → READY=1.
SIGHUP: load the whole config again; if it is valid, swap it in between batches, else log
every error and keep the old one. SIGTERM/SIGINT: stop claiming, let in-flight sends finish
within ``drain_timeout``, release claims not started, exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatcher.config import ConfigError
from dispatcher.dispatch import Clock, Dispatcher, StoreThread, utcnow
from dispatcher.planner import run_planner
from dispatcher.runtime import Runtime, load_runtime
from dispatcher.store import open_store

log = logging.getLogger("dispatcher.daemon")


def sd_notify(message: str) -> None:
    """Tell systemd about our state (no-op outside a Type=notify unit)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("sd_notify failed", extra={"fields": {"error": str(exc)}})


class Daemon:
    def __init__(
        self,
        config_dir: str | Path,
        *,
        clock: Clock = utcnow,
        extra_plugins: list[Any] | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.clock = clock
        self.extra_plugins = extra_plugins
        self.runtime: Runtime = load_runtime(self.config_dir, extra_plugins=extra_plugins)
        self.store = open_store(self.runtime.config.store_url)
        self.store_thread = StoreThread(self.store)
        self.dispatcher: Dispatcher | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._closing: asyncio.Task[None] | None = None

    async def run(self) -> int:
        runtime = self.runtime
        report = await self.store_thread.call(
            self.store.recover, self.clock(), runtime.resend_on_unknown
        )
        if report.unknown or report.requeued:
            log.warning(
                "attempts left in flight by the last run",
                extra={"fields": {"unknown": report.unknown, "requeued": report.requeued}},
            )
        for channel in runtime.channels.values():
            await channel.open()
        self.dispatcher = Dispatcher(self.store_thread, runtime, clock=self.clock)
        await self.plan()
        self.scheduler = AsyncIOScheduler(timezone=runtime.config.dispatcher.timezone)
        self.schedule_jobs(runtime)
        self.scheduler.start()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        log.info(
            "dispatcher started",
            extra={
                "fields": {
                    "config": str(self.config_dir),
                    "channels": ",".join(runtime.channels),
                    "pid": os.getpid(),
                }
            },
        )
        sd_notify("READY=1\nSTATUS=dispatching")
        try:
            await self.dispatcher.run()
        finally:
            sd_notify("STOPPING=1")
            self.scheduler.shutdown(wait=False)
            # Sends cut off by the drain timeout stay claimed: record them as unknown now.
            await self.store_thread.call(
                self.store.recover, self.clock(), self.runtime.resend_on_unknown
            )
            for channel in self.runtime.channels.values():
                await channel.close()
            self.store_thread.shutdown()
            self.store.close()
            log.info(
                "dispatcher stopped",
                extra={
                    "fields": {
                        "sent": self.dispatcher.counters.sent,
                        "deferred": self.dispatcher.counters.deferred,
                        "suppressed": self.dispatcher.counters.suppressed,
                    }
                },
            )
        return 0

    def stop(self) -> None:
        log.info("stop requested; draining")
        if self.dispatcher:
            self.dispatcher.stop()

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

    def schedule_jobs(self, runtime: Runtime) -> None:
        assert self.scheduler is not None
        zone = runtime.config.dispatcher.timezone
        for name, job in runtime.config.schedules.jobs.items():
            if not job.enabled:
                continue
            trigger = CronTrigger.from_crontab(job.cron, timezone=zone)
            if name == "plan":
                self.scheduler.add_job(
                    self.plan,
                    trigger,
                    id=name,
                    replace_existing=True,
                    max_instances=1,
                    coalesce=True,
                )

    async def _close_when_idle(self, old: Runtime) -> None:
        # Sends already under way hold the old channel objects; close those once they finish.
        deadline = old.config.dispatcher.dispatch.drain_timeout.total_seconds()
        waited = 0.0
        while self.dispatcher is not None and self.dispatcher.in_flight and waited < deadline:
            await asyncio.sleep(0.1)
            waited += 0.1
        for channel in old.channels.values():
            await channel.close()

    async def reload(self) -> None:
        sd_notify("RELOADING=1")
        try:
            new = await asyncio.to_thread(
                load_runtime, self.config_dir, extra_plugins=self.extra_plugins
            )
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload rejected", extra={"fields": {"problem": str(problem)}})
            sd_notify("READY=1\nSTATUS=reload rejected; old config running")
            return
        old = self.runtime
        for channel in new.channels.values():
            await channel.open()
        self.runtime = new
        if self.dispatcher:
            self.dispatcher.runtime = new
        if self.scheduler:
            self.scheduler.remove_all_jobs()
            self.schedule_jobs(new)
        self._closing = asyncio.create_task(self._close_when_idle(old))
        log.info("config reloaded", extra={"fields": {"channels": ",".join(new.channels)}})
        sd_notify("READY=1\nSTATUS=dispatching")
        if self.dispatcher:
            self.dispatcher.wake()
