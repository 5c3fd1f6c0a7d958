"""Reload in process: unchanged channels keep their connections, changed ones are reopened
and the old ones closed once the sends under way finish; cron jobs are reconciled."""

from __future__ import annotations

import asyncio

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from dispatcher.daemon import Daemon
from tests.conftest import Deployment


async def test_reload_reopens_only_changed_channels(open_deployment: Deployment) -> None:
    dep = open_deployment
    daemon = Daemon(dep.config)
    for channel in daemon.runtime.channels.values():
        await channel.open()
    old = dict(daemon.runtime.channels)
    old_version = daemon.runtime.version

    # Email moves to another directory; the others are untouched.
    text = (dep.config / "dispatcher.toml").read_text()
    head, email = text.split("[channels.email]")
    email = email.replace(f'directory = "{dep.outbox}"', f'directory = "{dep.outbox}-email"', 1)
    dep.write("dispatcher.toml", head + "[channels.email]" + email)

    assert await daemon.reload()
    await asyncio.sleep(0.05)  # the retired channel closes in the background
    new = daemon.runtime.channels
    assert new["sms"] is old["sms"] and new["voice"] is old["voice"]
    assert new["email"] is not old["email"]
    assert new["email"].path.parent.name.endswith("-email")  # type: ignore[attr-defined]
    assert old["email"]._file is None, "the replaced channel is closed"  # type: ignore[attr-defined]
    assert new["email"]._file is not None, "the new channel is open"  # type: ignore[attr-defined]
    assert daemon.runtime.version != old_version
    for channel in new.values():
        await channel.close()
    daemon.store.close()


async def test_reload_reconciles_cron_jobs(open_deployment: Deployment) -> None:
    dep = open_deployment
    daemon = Daemon(dep.config)
    daemon.scheduler = AsyncIOScheduler(timezone="UTC")
    daemon.schedule_jobs(daemon.runtime)
    daemon.scheduler.start(paused=True)  # jobs are replaced in the job store once started
    assert str(daemon.scheduler.get_job("plan").trigger).startswith("cron[")
    dep.set("schedules.toml", r'^cron = ".*"$', 'cron = "15 3 * * *"')
    assert await daemon.reload()
    trigger = daemon.scheduler.get_job("plan").trigger
    assert "hour='3'" in str(trigger) and "minute='15'" in str(trigger)
    dep.set("schedules.toml", r'^cron = "(.*)"$', 'cron = "\\1"\nenabled = false')
    assert await daemon.reload()
    assert daemon.scheduler.get_job("plan") is None
    daemon.scheduler.shutdown(wait=False)
    for channel in daemon.runtime.channels.values():
        await channel.close()
    daemon.store.close()


async def test_rejected_reload_keeps_everything(open_deployment: Deployment) -> None:
    dep = open_deployment
    daemon = Daemon(dep.config)
    before = daemon.runtime
    dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "later"')
    assert not await daemon.reload()
    assert daemon.runtime is before
    assert b"dispatcher_config_last_reload_success 0.0" in daemon.metrics.exposition()
    assert b'dispatcher_reloads_total{result="failure"} 1.0' in daemon.metrics.exposition()
    daemon.store.close()


async def test_a_channel_that_does_not_open_refuses_the_reload_and_keeps_the_old_config(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    daemon = Daemon(dep.config)
    for channel in daemon.runtime.channels.values():
        await channel.open()
    before = daemon.runtime
    # Email moves into a "directory" that is a file: the new channel's open() fails.
    (dep.root / "a-file").write_text("")
    text = (dep.config / "dispatcher.toml").read_text()
    head, email = text.split("[channels.email]")
    email = email.replace(f'directory = "{dep.outbox}"', f'directory = "{dep.root}/a-file/x"', 1)
    dep.write("dispatcher.toml", head + "[channels.email]" + email)

    assert not await daemon.reload()
    assert daemon.runtime is before
    assert before.channels["email"]._file is not None, "the old channel still open"  # type: ignore[attr-defined]
    assert daemon.status.reload_problem == "channel email did not open"
    assert b'dispatcher_reloads_total{result="failure"} 1.0' in daemon.metrics.exposition()
    for channel in before.channels.values():
        await channel.close()
    daemon.store.close()
