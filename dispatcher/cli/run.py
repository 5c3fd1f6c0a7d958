"""``dispatcher run``: the daemon in the foreground."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from dispatcher.cli.console import config_failed
from dispatcher.config import ConfigError


@click.command()
@click.option(
    "--config",
    "config_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Config directory (overrides the global option).",
)
@click.pass_context
def run(ctx: click.Context, config_dir: Path | None) -> None:
    """Run the daemon in the foreground (systemd Type=notify)."""
    from dispatcher.daemon import Daemon
    from dispatcher.daemon.logs import setup_logging

    root = config_dir or ctx.obj["config"]
    ctx.obj["config"] = root
    try:
        daemon = Daemon(root)
    except ConfigError as exc:
        config_failed(exc)
    settings = daemon.runtime.config.dispatcher.log
    setup_logging(settings.format, settings.level)
    sys.exit(asyncio.run(daemon.run()))
