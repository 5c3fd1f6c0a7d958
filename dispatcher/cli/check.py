"""``dispatcher check``: validate a config directory as the daemon would load it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dispatcher.cli.console import out
from dispatcher.config import ConfigError


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, directory: Path | None) -> None:
    """Validate config files, templates and channel settings; print every error."""
    from dispatcher.runtime import load_runtime

    root = directory or ctx.obj["config"]
    try:
        runtime = load_runtime(root)
    except ConfigError as exc:
        for problem in exc.problems:
            out.print(str(problem), markup=False)
        out.print(f"{len(exc.problems)} problem(s) in {root}", markup=False)
        sys.exit(1)
    config = runtime.config
    steps = sum(len(s.steps) for s in config.schedules.schedules.values())
    out.print(
        f"{root}: OK — {len(runtime.channels)} channel(s), "
        f"{len(config.schedules.schedules)} schedule(s) with {steps} step(s), "
        f"locales {', '.join(config.dispatcher.locales)}",
        markup=False,
    )
