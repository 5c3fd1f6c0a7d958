"""``dispatcher plugins``: what is installed, and what failed to load."""

from __future__ import annotations

import sys

import click

from dispatcher.cli.console import err, out
from dispatcher.terminal import printable


@click.command()
def plugins() -> None:
    """Installed plugins: their channel types, versions and where they were found."""
    from dispatcher.runtime.plugins import load_plugins

    loaded = load_plugins()
    out.print(f"plugins (entry-point group 'dispatcher'): {len(loaded.info)}")
    # One block per plugin rather than a table: paths stay whole at any terminal width.
    for info in loaded.info:
        lines = (
            info.name,
            f"  channel types  {', '.join(info.channels) or '-'}",
            f"  distribution   {info.distribution} {info.version}",
            f"  module         {info.module}",
            f"  found in       {info.location}",
        )
        out.print("\n" + "\n".join(map(printable, lines)), markup=False)
    for problem in loaded.problems:
        err.print(printable(problem), markup=False)
    if loaded.problems:
        sys.exit(1)
