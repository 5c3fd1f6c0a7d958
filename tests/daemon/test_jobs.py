"""Cron jobs from schedules.toml run in dispatcher.toml's time zone; every planning pass is
logged with what it cost."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatcher.daemon import Daemon
from dispatcher.daemon.jobs import plan_reminders
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment


def test_plan_job_follows_the_configured_cron_and_zone(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^timezone = ".*"', 'timezone = "Asia/Shanghai"')
    dep.set("schedules.toml", r'^cron = ".*"', 'cron = "30 2 * * *"')
    daemon = Daemon(dep.config)
    try:
        daemon.scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")
        daemon.schedule_jobs(daemon.runtime)
        job = daemon.scheduler.get_job("plan")
        assert job is not None
        zone = ZoneInfo("Asia/Shanghai")
        after = datetime(2026, 11, 29, 12, 0, tzinfo=zone)
        fire = job.trigger.get_next_fire_time(None, after)
        assert fire == datetime(2026, 11, 30, 2, 30, tzinfo=zone)
    finally:
        daemon.store.close()


def test_disabled_job_is_not_scheduled(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.set("schedules.toml", r'^cron = "(.*)"', 'cron = "\\1"\nenabled = false')
    daemon = Daemon(dep.config)
    try:
        daemon.scheduler = AsyncIOScheduler(timezone="UTC")
        daemon.schedule_jobs(daemon.runtime)
        assert daemon.scheduler.get_job("plan") is None
    finally:
        daemon.store.close()


async def test_every_planning_pass_is_logged_with_its_cost_even_an_idle_one(
    open_deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(open_deployment.config)
    thread = StoreThread(daemon.store)
    try:
        with caplog.at_level(logging.INFO, logger="dispatcher.daemon"):
            assert await plan_reminders(thread, daemon.runtime, datetime.now(UTC)) == 0
        (line,) = [r for r in caplog.records if r.getMessage() == "planned reminders"]
        fields = line.fields  # type: ignore[attr-defined]
        assert fields["created"] == 0 and fields["pages"] >= 1
        assert fields["seconds"] >= 0 and fields["longest_page_ms"] >= 0
    finally:
        thread.shutdown()
        daemon.store.close()


async def test_a_failed_planning_pass_is_logged_and_tried_again_not_raised(
    open_deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    dep = open_deployment
    store = dep.store()
    now = datetime.now(UTC)
    store.upsert(
        [PersonIn(id="P1", name="Ann Example", locale="en", phones=("+447911123456",))],
        [CaseIn("C1", "P1", "10", "GBP", (now - timedelta(days=1)).date(), "standard")],
        now,
    )
    store.close()
    daemon = Daemon(dep.config)
    daemon.planning.first = 0.01
    # The store breaks under the planner: its cases table is gone for a while.
    with closing(sqlite3.connect(dep.db)) as db:
        db.execute("ALTER TABLE cases RENAME TO cases_away")
    try:
        with caplog.at_level(logging.INFO, logger="dispatcher.daemon"):
            await daemon.plan()  # returns: nothing raised to the cron job or the task
            failed = [r for r in caplog.records if r.getMessage().startswith("planning pass f")]
            assert failed and failed[0].levelno == logging.ERROR
            fields = failed[0].fields  # type: ignore[attr-defined]
            assert "OperationalError" in fields["error"] and "cases" in fields["error"]
            assert "Ann" not in fields["error"] and "+447911123456" not in caplog.text
            assert daemon.planning.waiting
            with closing(sqlite3.connect(dep.db)) as db:
                db.execute("ALTER TABLE cases_away RENAME TO cases")
            # A retry plans the case once the store answers again.
            await asyncio.wait_for(_retried(daemon), timeout=30)
        assert daemon.store.case_history("C1").reminders
    finally:
        for task in daemon._background:
            task.cancel()
        daemon.store_thread.shutdown()
        daemon.store.close()


async def _retried(daemon: Daemon) -> None:
    """Until a retry has succeeded (the backoff is reset and no retry is waiting)."""
    while daemon.planning.delay is not None or daemon.planning.waiting:
        await asyncio.sleep(0.01)
