"""``dispatcher check``: validate a config directory as the daemon would load it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dispatcher.cli.console import out
from dispatcher.config import ConfigError
from dispatcher.terminal import printable


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Leave secret references unresolved (on a machine without the credentials, e.g. CI).",
)
@click.pass_context
def check(ctx: click.Context, directory: Path | None, no_secrets: bool) -> None:
    """Validate config files, templates and channel settings; print every error."""
    from dispatcher.runtime import load_runtime

    root = directory or ctx.obj["config"]
    try:
        runtime = load_runtime(root, secrets=not no_secrets)
    except ConfigError as exc:
        for problem in exc.problems:
            out.print(printable(problem), markup=False)
        out.print(printable(f"{len(exc.problems)} problem(s) in {root}"), markup=False)
        sys.exit(1)
    config = runtime.config
    steps = sum(len(s.steps) for s in config.schedules.schedules.values())
    out.print(
        printable(
            f"{root}: OK — {len(runtime.channels)} channel(s), "
            f"{len(config.schedules.schedules)} schedule(s) with {steps} step(s), "
            f"locales {', '.join(config.dispatcher.locales)}"
        ),
        markup=False,
    )
