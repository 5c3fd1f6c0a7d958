"""Line numbers for TOML keys, so config errors can say ``file:line: key: message``.

``tomllib`` gives values without positions. This scanner reads the text once and records the
line of every table header, key and inline-table array element, keyed by its path as pydantic
reports it (strings for keys, integers for array positions). It understands the TOML that
admins write by hand (tables, arrays of tables, dotted keys, arrays of inline tables across
lines); for anything exotic it falls back to the nearest enclosing key it did find.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Path = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*="""
)
_INLINE_KEY = re.compile(r"""(?:^|[{,])\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")
_INLINE_TABLES = re.compile(r"\}\s*,\s*(?=\{)")  # where one inline table ends and the next begins


def _split_key(text: str) -> list[str]:
    parts = re.findall(r""""[^"]*"|'[^']*'|[A-Za-z0-9_\-]+""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class KeyLines:
    """Map of key path → 1-based line number for one TOML document."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        self._array_counts: dict[Path, int] = {}
        self._scan(text)

    def _scan(self, text: str) -> None:
        table: Path = ()
        open_array: Path | None = None  # key whose multi-line array value we are inside
        depth = 0
        element = -1
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0] if '"' not in raw and "'" not in raw else raw
            if open_array is not None:
                stripped = line.strip()
                if depth == 1 and stripped.startswith("{"):
                    for piece in _INLINE_TABLES.split(stripped):
                        element += 1
                        self._record((*open_array, element), lineno)
                        for key in _INLINE_KEY.findall(piece):
                            self._record((*open_array, element, *_split_key(key)), lineno)
                depth += line.count("[") - line.count("]")
                if depth <= 0:
                    open_array = None
                continue
            header = _HEADER.match(line)
            if header:
                path = tuple(_split_key(header.group(2)))
                if header.group(1) == "[[":
                    index = self._array_counts.get(path, 0)
                    self._array_counts[path] = index + 1
                    table = (*path, index)
                    self._record(path, lineno)
                else:
                    table = path
                self._record(table, lineno)
                continue
            key = _KEY.match(line)
            if not key:
                continue
            keyed: Path = (*table, *_split_key(key.group(1)))
            self._record(keyed, lineno)
            value = line[key.end() :].strip()
            if value.startswith("{"):
                for inner in _INLINE_KEY.findall(value[1:]):
                    self._record((*keyed, *_split_key(inner)), lineno)
            if value.startswith("["):
                depth = value.count("[") - value.count("]")
                element = -1
                if value.startswith("[{") or value.startswith("[ {"):
                    element = 0
                    self._record((*keyed, 0), lineno)
                if depth > 0:
                    open_array = keyed

    def _record(self, path: Path, lineno: int) -> None:
        self.lines.setdefault(path, lineno)

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of ``path`` or of its nearest enclosing key; 1 if none is known."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return 1
