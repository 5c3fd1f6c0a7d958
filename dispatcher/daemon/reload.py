"""Reload's steps: a rejected config is logged and counted (the old one keeps running); an
accepted one keeps each unchanged channel with its connections, opens the others, and closes
the retired ones once the sends that hold them finish."""

from __future__ import annotations

import logging
from datetime import timedelta

from dispatcher.channel import Channel
from dispatcher.config import ConfigError
from dispatcher.dispatch import Dispatcher
from dispatcher.dispatch.store_health import failure_reason
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime

log = logging.getLogger("dispatcher.daemon")


def report_rejected(metrics: Metrics, exc: ConfigError) -> str:
    """Log every problem of the rejected config and count the failure; returns the short
    reason for the STATUS line."""
    for problem in exc.problems:
        log.error("reload rejected", extra={"fields": {"problem": str(problem)}})
    metrics.reloads.labels("failure").inc()
    metrics.config_ok.set(0)
    return f"{len(exc.problems)} problem(s)"


def report_accepted(metrics: Metrics, new: Runtime, reopened: int) -> None:
    """Count the swap of ``new`` in, and log it."""
    metrics.reloads.labels("success").inc()
    metrics.config_ok.set(1)
    metrics.set_config_version(new.version)
    log.info(
        "config reloaded",
        extra={
            "fields": {
                "version": new.version,
                "channels": ",".join(new.channels),
                "reopened": reopened,
            }
        },
    )


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


def report_open_failed(metrics: Metrics, exc: ChannelOpenFailed) -> str:
    """Log and count a reload refused because a channel would not open; returns the short
    reason for the STATUS line."""
    log.error("reload rejected", extra={"fields": {"problem": str(exc)}})
    metrics.reloads.labels("failure").inc()
    metrics.config_ok.set(0)
    return f"channel {exc.channel} did not open"


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
