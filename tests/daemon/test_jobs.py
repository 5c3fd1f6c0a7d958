"""Cron jobs from schedules.toml run in dispatcher.toml's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatcher.daemon import Daemon
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
