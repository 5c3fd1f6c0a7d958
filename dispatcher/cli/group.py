"""The ``dispatcher`` command group: its ``--config`` and ``--version`` options, and every
command in it."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.cli.arrangements import arrangement, payment
from dispatcher.cli.audit import audit
from dispatcher.cli.check import check
from dispatcher.cli.console import follow_columns, out
from dispatcher.cli.intake import enqueue, event, import_
from dispatcher.cli.plugins import plugins
from dispatcher.cli.reload import reload
from dispatcher.cli.reports import explain, status
from dispatcher.cli.run import run
from dispatcher.cli.simulate import simulate
from dispatcher.cli.store import backup, migrate
from dispatcher.cli.unknown import unknown
from dispatcher.cli.wishes import wishes
from dispatcher.terminal import printable

DEFAULT_CONFIG = "/etc/dispatcher"


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """``--version``: the program's version, the store schema version it uses, and each
    plugin with its version (nothing is read from the config or the store)."""
    if not value or ctx.resilient_parsing:
        return
    from dispatcher.runtime.plugins import load_plugins
    from dispatcher.runtime.versions import PROGRAM_VERSION
    from dispatcher.store.schema import SCHEMA_VERSION

    lines = [f"dispatcher {PROGRAM_VERSION}", f"store schema {SCHEMA_VERSION}"]
    for info in load_plugins().info:
        lines.append(f"plugin {info.name} {info.version} ({info.distribution})")
    for line in lines:
        out.print(printable(line), markup=False)
    ctx.exit(0)


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
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="The program, store schema and plugin versions; then exit.",
)
@click.pass_context
def main(ctx: click.Context, config_dir: Path) -> None:
    """Payment and overdue-debt reminders, sent within the contact policy.

    Exit codes: 0 done; 1 problems found (a config that does not check, rejected rows, a
    refused reload); 2 bad usage or an environment that does not allow the work (the config
    or store cannot be read, the daemon cannot be reached)."""
    follow_columns()
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_dir


for command in (
    run,
    check,
    reload,
    import_,
    enqueue,
    event,
    status,
    explain,
    backup,
    migrate,
    plugins,
    simulate,
    audit,
    unknown,
    arrangement,
    payment,
    wishes,
):
    main.add_command(command)
