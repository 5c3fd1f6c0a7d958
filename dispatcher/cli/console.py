"""Where the commands write: ``out`` for results, ``err`` for progress and errors; and how a
command fails (a message, or every problem of the config directory, and an exit code)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from dispatcher.config import ConfigError
from dispatcher.terminal import printable

# soft_wrap: one error per line even when the output is a pipe or the journal. emoji=False:
# "dispatcher.toml:100: key" must not print as "dispatcher.toml💯 key".
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def follow_columns() -> None:
    """Take the width ``COLUMNS`` gives when a command starts, not only when this module was
    imported: a caller that runs several commands in one process (a wrapper, a test runner)
    may give each its own."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        out.width = err.width = int(columns)


def fail(message: str, code: int = 1) -> NoReturn:
    """``error: message`` on stderr (the message shown as written: never markup, control
    characters escaped), and exit ``code``."""
    err.print(f"[red]error:[/red] {escape(printable(message))}", markup=True)
    sys.exit(code)


def config_failed(exc: ConfigError) -> NoReturn:
    """Every problem of the config directory on stderr, one a line; exit 2."""
    for problem in exc.problems:
        err.print(printable(problem), markup=False)
    sys.exit(2)
