"""``dispatcher plugins``: what is installed, and what failed to load (exit 1 if any)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from dispatcher.cli.console import PROBLEMS, err, out, print_json
from dispatcher.terminal import printable

if TYPE_CHECKING:
    from dispatcher.runtime.plugins import PluginInfo


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The plugins as one JSON object.")
def plugins(as_json: bool) -> None:
    """Installed plugins: their channel types, versions and where they were found."""
    from dispatcher.runtime.plugins import load_plugins

    loaded = load_plugins()
    if as_json:
        listed = [asdict(info) for info in loaded.info]
        print_json({"plugins": listed, "problems": loaded.problems})
    else:
        _print_plugins(loaded.info)
        for problem in loaded.problems:
            err.print(printable(problem), markup=False)
    if loaded.problems:
        sys.exit(PROBLEMS)


def _print_plugins(found: list[PluginInfo]) -> None:
    out.print(f"plugins (entry-point group 'dispatcher'): {len(found)}")
    # One block per plugin rather than a table: paths stay whole at any terminal width.
    for info in found:
        lines = (
            info.name,
            f"  channel types  {', '.join(info.channels) or '-'}",
            f"  distribution   {info.distribution} {info.version}",
            f"  module         {info.module}",
            f"  found in       {info.location}",
        )
        out.print("\n" + "\n".join(map(printable, lines)), markup=False)
