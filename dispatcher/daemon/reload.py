"""Reload's steps: a rejected config is logged and counted (the old one keeps running); an
accepted one keeps each unchanged channel with its connections, opens the others, and closes
the retired ones once the sends that hold them finish.

Each load of the config — at start, on SIGHUP, by ``POST /-/reload`` — leaves a
``ReloadRecord``: when, what asked for it, whether it was applied, the config version in force
after it and the problems that refused it. The daemon keeps the last one (``Daemon.last_reload``);
``POST /-/reload`` answers with it and ``GET /-/status`` shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from dispatcher.channel import Channel
from dispatcher.config import ConfigError
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_health import failure_reason
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime

log = logging.getLogger("dispatcher.daemon")

Source = Literal["start", "signal", "http"]


@dataclass(frozen=True)
class ReloadRecord:
    """One load of the config directory and how it went. ``version`` is the config in force
    after it: the new one when applied, the one still running when refused. ``summary`` is
    the short reason a refusal gives the STATUS line ("" when applied)."""

    at: datetime
    source: Source
    ok: bool
    version: str
    problems: tuple[str, ...] = ()
    summary: str = ""
    reopened: int = 0  # channels reopened because their settings changed

    @property
    def result(self) -> str:
        return "success" if self.ok else "failure"

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "source": self.source,
            "result": self.result,
            "ok": self.ok,
            "version": self.version,
            "problems": list(self.problems),
            "reopened": self.reopened,
        }


def loaded_at_start(metrics: Metrics, runtime: Runtime, at: datetime) -> ReloadRecord:
    """The record of the config the daemon started with."""
    metrics.config_loaded(runtime.version, at.timestamp())
    metrics.know_channels(runtime.channels)
    return ReloadRecord(at, "start", True, runtime.version)


def report_rejected(
    metrics: Metrics, exc: ConfigError, running: Runtime, source: Source, at: datetime
) -> ReloadRecord:
    """Log every problem of the rejected config and count the failure."""
    problems = tuple(str(problem) for problem in exc.problems)
    for problem in problems:
        log.error("reload rejected", extra={"fields": {"problem": problem}})
    _count_failure(metrics)
    summary = f"{len(problems)} problem(s)"
    return ReloadRecord(at, source, False, running.version, problems, summary)


def report_accepted(
    metrics: Metrics, old: Runtime, new: Runtime, reopened: int, source: Source, at: datetime
) -> ReloadRecord:
    """Count the swap of ``new`` in, and log it."""
    metrics.reloads.labels("success").inc()
    metrics.config_loaded(new.version, at.timestamp())
    metrics.know_channels(new.channels)
    kept = {id(channel) for channel in old.channels.values()}
    for name, channel in new.channels.items():
        if id(channel) not in kept:  # a channel carried over keeps what it said of itself
            metrics.set_channel_up(name, True)
    log.info(
        "config reloaded",
        extra={
            "fields": {
                "version": new.version,
                "channels": ",".join(new.channels),
                "reopened": reopened,
                "source": source,
            }
        },
    )
    return ReloadRecord(at, source, True, new.version, reopened=reopened)


def _count_failure(metrics: Metrics) -> None:
    metrics.reloads.labels("failure").inc()
    metrics.config_ok.set(0)


async def carry_over_channels(old: Runtime, new: Runtime) -> list[Channel]:
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
    opened: list[Channel] = []
    for name, channel in new.channels.items():
        if id(channel) in kept:
            continue
        try:
            await channel.open()
        except Exception as exc:  # the reload is refused; the old channels stay as they are
            await close_quietly([*opened, channel])
            raise ChannelOpenFailed(name, exc) from exc
        opened.append(channel)
    return retired


class ChannelOpenFailed(Exception):
    """A channel of the new config could not be opened: the reload is refused."""

    def __init__(self, channel: str, exc: BaseException) -> None:
        super().__init__(f"channel {channel!r} could not be opened: {failure_reason(exc)}")
        self.channel = channel


def report_open_failed(
    metrics: Metrics, exc: ChannelOpenFailed, running: Runtime, source: Source, at: datetime
) -> ReloadRecord:
    """Log and count a reload refused because a channel would not open."""
    log.error("reload rejected", extra={"fields": {"problem": str(exc)}})
    _count_failure(metrics)
    if exc.channel not in running.channels:  # a channel the running config has keeps its own
        metrics.set_channel_up(exc.channel, False)
    summary = f"channel {exc.channel} did not open"
    return ReloadRecord(at, source, False, running.version, (str(exc),), summary)


async def close_quietly(channels: list[Channel]) -> None:
    """Close ``channels``, each failure logged (a refused reload must not fail again)."""
    for channel in channels:
        try:
            await channel.close()
        except Exception as exc:
            log.warning(
                "a channel did not close cleanly", extra={"fields": {"error": failure_reason(exc)}}
            )


async def close_after_sends(
    channels: list[Channel], dispatcher: Dispatcher | None, drain_timeout: timedelta
) -> None:
    """Close retired ``channels`` once the sends under way finish (or ``drain_timeout``)."""
    # Sends already under way hold the old channel objects; close those once they finish.
    if dispatcher is not None:
        await dispatcher.settle(drain_timeout.total_seconds())
    for channel in channels:
        await channel.close()
