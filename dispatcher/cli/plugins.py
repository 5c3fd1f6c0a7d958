"""``dispatcher plugins``: what is installed, and what failed to load."""

from __future__ import annotations

import sys

import click

from dispatcher.cli.console import err, out


@click.command()
def plugins() -> None:
    """Installed plugins: their channel types, versions and where they were found."""
    from dispatcher.runtime.plugins import load_plugins

    loaded = load_plugins()
    out.print(f"plugins (entry-point group 'dispatcher'): {len(loaded.info)}")
    # One block per plugin rather than a table: paths stay whole at any terminal width.
    for info in loaded.info:
        out.print(
            f"\n{info.name}\n"
            f"  channel types  {', '.join(info.channels) or '-'}\n"
            f"  distribution   {info.distribution} {info.version}\n"
            f"  module         {info.module}\n"
            f"  found in       {info.location}",
            markup=False,
        )
    for problem in loaded.problems:
        err.print(problem, markup=False)
    if loaded.problems:
        sys.exit(1)
