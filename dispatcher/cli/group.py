"""The ``dispatcher`` command group: its ``--config`` option, and every command in it."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.cli.arrangements import arrangement, payment
from dispatcher.cli.audit import audit
from dispatcher.cli.check import check
from dispatcher.cli.console import follow_columns
from dispatcher.cli.intake import enqueue, event, import_
from dispatcher.cli.plugins import plugins
from dispatcher.cli.reports import explain, status
from dispatcher.cli.run import run
from dispatcher.cli.simulate import simulate
from dispatcher.cli.store import backup, migrate
from dispatcher.cli.unknown import unknown

DEFAULT_CONFIG = "/etc/dispatcher"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_dir",
    envvar="DISPATCHER_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Config directory (env DISPATCHER_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config_dir: Path) -> None:
    """Payment and overdue-debt reminders, sent within the contact policy."""
    follow_columns()
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_dir


main.add_command(run)
main.add_command(check)
main.add_command(import_)
main.add_command(enqueue)
main.add_command(event)
main.add_command(status)
main.add_command(explain)
main.add_command(backup)
main.add_command(migrate)
main.add_command(plugins)
main.add_command(simulate)
main.add_command(audit)
main.add_command(unknown)
main.add_command(arrangement)
main.add_command(payment)
