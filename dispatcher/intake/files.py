"""Rows of CSV and JSON Lines files, numbered as an admin finds them in the file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dispatcher.intake.rows import RowError


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Rows of a CSV (header row; data rows numbered from 2, as a spreadsheet shows them) or
    JSON Lines file (numbered from 1)."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if suffix in (".jsonl", ".ndjson", ".json"):
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, RowError(number, "(line)", f"not valid JSON: {exc.msg}")
                    continue
                if not isinstance(value, dict):
                    yield number, RowError(number, "(line)", "not a JSON object")
                    continue
                yield number, value
        else:
            reader = csv.reader(handle)
            header = next(reader, None) or []
            # Numbered by record, not by physical line: a quoted cell may span lines and a
            # spreadsheet still shows the record as one row.
            for number, values in enumerate(reader, start=2):
                if not values:
                    continue
                if len(values) > len(header):
                    yield number, RowError(number, "(line)", "more values than header columns")
                    continue
                yield number, dict(zip(header, values, strict=False))


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - (0 if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else 1)
