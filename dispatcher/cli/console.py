"""Where the commands write: ``out`` for results, ``err`` for progress and errors; and how a
command fails (a message, or every problem of the config directory, and an exit code)."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

from dispatcher.config import ConfigError

# soft_wrap: one error per line even when the output is a pipe or the journal.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True)
    sys.exit(code)


def config_failed(exc: ConfigError) -> NoReturn:
    """Every problem of the config directory on stderr, one a line; exit 2."""
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    sys.exit(2)
