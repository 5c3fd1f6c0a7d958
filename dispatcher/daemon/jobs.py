"""The scheduler's jobs: the cron jobs of schedules.toml, run in dispatcher.toml's time zone,
and the one they run today, the planner (a page per store call, so claims interleave); a
planning pass that fails is logged and tried again after a backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatcher.dispatch.store_health import failure_reason
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.planner import planning_pass
from dispatcher.planner.arrangements import break_arrangements
from dispatcher.runtime import Runtime

log = logging.getLogger("dispatcher.daemon")

Job = Callable[[], Awaitable[None]]
# A failed planning pass is tried again after this many seconds, doubled after each failure
# in a row up to the most: a store that is briefly unreachable is planned again soon, one
# that stays broken is not hammered (a cron tick between tries plans again too).
RETRY_FIRST = 10.0
RETRY_MOST = 300.0


class PlanningRetries:
    """Runs planning passes so that none raises: a failed one is logged (its reason, never
    personal data) and tried again after a backoff; a pass that succeeds resets it.
    ``spawn`` runs the waiting retry as a background task of the daemon (cancelled when it
    stops)."""

    def __init__(self, spawn: Callable[[Awaitable[None]], None]) -> None:
        self.spawn = spawn
        self.first = RETRY_FIRST
        self.most = RETRY_MOST
        self.delay: float | None = None  # the backoff in force: None after a success
        self.waiting = False  # a retry is scheduled

    async def run(self, plan: Job) -> bool:
        """Run ``plan``; False when it failed (then a retry is scheduled)."""
        try:
            await plan()
        except Exception as exc:  # a failed pass must not end the job or the daemon's task
            first = self.delay is None
            self.delay = self.first if self.delay is None else min(self.delay * 2, self.most)
            # Logged as an error once per failures in a row (a store outage is logged by the
            # store's health); the retries that fail again only at debug.
            log.log(
                logging.ERROR if first else logging.DEBUG,
                "planning pass failed; it is tried again",
                extra={"fields": {"error": failure_reason(exc), "retry_seconds": self.delay}},
            )
            if not self.waiting:
                self.waiting = True
                self.spawn(self._again(plan, self.delay))
            return False
        self.delay = None
        return True

    async def _again(self, plan: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        self.waiting = False
        await self.run(plan)


def reconcile_jobs(scheduler: AsyncIOScheduler, runtime: Runtime, jobs: Mapping[str, Job]) -> None:
    """Make ``scheduler``'s jobs match ``runtime``'s config: add, change, remove. ``jobs``
    maps a job name in schedules.toml to what it runs."""
    zone = runtime.config.dispatcher.timezone
    wanted = {name: job for name, job in runtime.config.schedules.jobs.items() if job.enabled}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for name, job in wanted.items():
        scheduler.add_job(
            jobs[name],
            CronTrigger.from_crontab(job.cron, timezone=zone),
            id=name,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )


async def plan_reminders(
    store_thread: StoreThread,
    runtime: Runtime,
    now: datetime,
    on_created: Callable[[], None] | None = None,
) -> int:
    """Run the planner over ``runtime``'s schedules, each page its own call on the store
    thread (other store calls run between them); ``on_created`` is called after each page
    that created reminders. Returns how many reminders it made."""
    pages = planning_pass(
        store_thread.store,
        runtime.config.schedules,
        runtime.config.dispatcher.fallback_timezone,
        now,
    )
    created = calls = 0
    longest = 0.0
    started = time.perf_counter()
    while True:
        called = time.perf_counter()
        page = await store_thread.guarded("plan", next, pages, None)
        if page is None:
            break
        calls += 1
        longest = max(longest, time.perf_counter() - called)
        created += page
        if page and on_created is not None:
            on_created()
    # Arrangements with an instalment unpaid past its grace break, and their ladder resumes.
    broken = await store_thread.guarded(
        "plan", break_arrangements, store_thread.store, runtime.config, now
    )
    if broken and on_created is not None:
        on_created()
    # Every pass is logged, idle ones too: its duration and its longest store call are what
    # tell ops whether planning keeps up and whether it holds up sending.
    log.info(
        "planned reminders",
        extra={
            "fields": {
                "created": created,
                "pages": calls,
                "seconds": round(time.perf_counter() - started, 3),
                "longest_page_ms": round(longest * 1000, 1),
            }
        },
    )
    return created
