"""The ``dispatcher`` command: run, check, import, enqueue, event, status, explain, backup,
migrate, plugins, simulate and audit export.

One module per command group; ``main`` (the console script) is the group with every command
in it (``group``). What the commands share: ``console`` (where they write, how they fail),
``loading`` (the config directory or store ``--config`` names), ``instants`` (dates and
times typed on the command line).
"""

from dispatcher.cli.group import main

__all__ = ["main"]
