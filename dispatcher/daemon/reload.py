"""Reload's steps: a rejected config is logged and counted (the old one keeps running); an
accepted one keeps each unchanged channel with its connections, opens the others, and closes
the retired ones once the sends that hold them finish."""

from __future__ import annotations

import logging
from datetime import timedelta

from dispatcher.channel import Channel
from dispatcher.config import ConfigError
from dispatcher.dispatch import Dispatcher
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
    for channel in new.channels.values():
        if id(channel) not in kept:
            await channel.open()
    return retired


async def close_after_sends(
    channels: list[Channel], dispatcher: Dispatcher | None, drain_timeout: timedelta
) -> None:
    """Close retired ``channels`` once the sends under way finish (or ``drain_timeout``)."""
    # Sends already under way hold the old channel objects; close those once they finish.
    if dispatcher is not None:
        await dispatcher.settle(drain_timeout.total_seconds())
    for channel in channels:
        await channel.close()
