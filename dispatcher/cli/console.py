"""Where the commands write: ``out`` for results, ``err`` for progress and errors; results as
JSON for scripts (``print_json``); and how a command fails (a message, or every problem of the
config directory, and an exit code).

Exit codes, the same for every command (README's table): 0 done and nothing wrong found;
``PROBLEMS`` (1) done, and problems found in what it examined (a config that does not check,
rejected rows, a refused reload, plugins that did not load); ``UNUSABLE`` (2) it could not do
its work: bad usage (an option, a case, channel or template that does not exist) or the
environment (the config directory does not load, the store or the daemon cannot be reached, a
file cannot be read or written).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

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


PROBLEMS = 1
UNUSABLE = 2


def print_json(value: Any) -> None:
    """``value`` as one JSON document on stdout (instants in ISO 8601, text as is)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def fail(message: str, code: int = UNUSABLE) -> NoReturn:
    """``error: message`` on stderr (the message shown as written: never markup, control
    characters escaped), and exit ``code``."""
    err.print(f"[red]error:[/red] {escape(printable(message))}", markup=True)
    sys.exit(code)


def config_failed(exc: ConfigError) -> NoReturn:
    """Every problem of the config directory on stderr, one a line; exit 2."""
    for problem in exc.problems:
        err.print(printable(problem), markup=False)
    sys.exit(UNUSABLE)
