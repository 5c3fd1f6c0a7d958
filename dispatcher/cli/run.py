"""``dispatcher run``: the daemon in the foreground."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from dispatcher.cli.console import config_failed
from dispatcher.config import ConfigError

log = logging.getLogger("dispatcher.daemon")


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
    """Run the daemon in the foreground (systemd Type=notify). Exit 0 after a stop; 2 when
    it cannot start or run (a bad config, a store it cannot open, a port it cannot bind):
    the error as one log line."""
    from dispatcher.daemon import Daemon
    from dispatcher.daemon.logs import fatal, setup_logging

    root = config_dir or ctx.obj["config"]
    ctx.obj["config"] = root
    setup_logging()  # until the config says how: a failure to start is logged as one line
    try:
        daemon = Daemon(root)
    except ConfigError as exc:
        config_failed(exc)
    except Exception as exc:
        fatal(log, "dispatcher cannot start", exc)
        sys.exit(2)
    settings = daemon.runtime.config.dispatcher.log
    setup_logging(settings.format, settings.level)
    try:
        code = asyncio.run(daemon.run())
    except Exception as exc:
        fatal(log, "dispatcher stopped on an error", exc)
        sys.exit(2)
    sys.exit(code)
