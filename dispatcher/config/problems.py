"""Config errors as an admin reads them: ``file:line: key: message``, every one at once.

A ``Collector`` gathers them while a directory is loaded; pydantic's errors are turned into the
same form, with the line found by ``tomlpos``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dispatcher.config.tomlpos import KeyLines
from dispatcher.config.values import shown


@dataclass(frozen=True)
class Problem:
    """One config error at a place an admin can open."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in a config directory."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _key_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(file)"


def _message(error: Mapping[str, Any], *, show_input: bool = True) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if error["type"] in ("extra_forbidden",):
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    if (
        show_input
        and "input" in error
        and error["type"] not in ("value_error",)
        and not isinstance(error["input"], dict | list)
    ):
        message += f" (got {shown(error['input'])})"
    return message


def _clean_loc(loc: Sequence[Any]) -> tuple[str | int, ...]:
    # pydantic puts validator names like "function-after[...]" in loc; drop them.
    return tuple(p for p in loc if not (isinstance(p, str) and "[" in p and "]" in p))


class Collector:
    """The problems found so far in the config directory ``root``, and the key lines of each
    file read, so a problem given by key path is reported at its line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.positions: dict[str, KeyLines] = {}

    def add(
        self, file: str, loc: Sequence[str | int], message: str, line: int | None = None
    ) -> None:
        if line is None:
            lines = self.positions.get(file)
            line = lines.line_of(loc) if lines else 1
        self.problems.append(Problem(file, line, _key_path(loc), message))

    def add_validation(
        self,
        file: str,
        error: ValidationError,
        prefix: Sequence[str | int] = (),
        secrets: Mapping[str, str] | None = None,
        reported: Collection[str] = (),
    ) -> None:
        """Record each error of ``error``; values of ``secrets`` (setting → resolved value)
        never appear in a message; errors at a setting in ``reported`` (already reported:
        a secret that could not be resolved) are left out."""
        for item in error.errors():
            loc = _clean_loc(item["loc"])
            if loc and str(loc[0]) in reported:
                continue
            secret = (secrets or {}).get(str(loc[0])) if loc else None
            message = _message(item, show_input=secret is None)
            if secret:
                message = message.replace(secret, "***")
            self.add(file, (*prefix, *loc), message)
