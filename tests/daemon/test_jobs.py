"""Cron jobs from schedules.toml run in dispatcher.toml's time zone; every planning pass is
logged with what it cost."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatcher.daemon import Daemon
from dispatcher.daemon.jobs import plan_reminders
from dispatcher.dispatch import StoreThread
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
