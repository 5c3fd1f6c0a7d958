"""The scheduler's jobs: the cron jobs of schedules.toml, run in dispatcher.toml's time zone,
and the one they run today, the planner (a page per store call, so claims interleave)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatcher.dispatch import StoreThread
from dispatcher.planner import planning_pass
from dispatcher.runtime import Runtime

log = logging.getLogger("dispatcher.daemon")

Job = Callable[[], Awaitable[None]]


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
        page = await store_thread.call(next, pages, None)
        if page is None:
            break
        calls += 1
        longest = max(longest, time.perf_counter() - called)
        created += page
        if page and on_created is not None:
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
