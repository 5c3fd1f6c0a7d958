"""Rows of CSV and JSON Lines files, numbered as an admin finds them in the file, read as a
stream whatever the bytes: memory stays flat in the file's size, and a record that cannot be
read (undecodable bytes, longer than ``RECORD_LIMIT``, broken quoting, bad JSON) is a
``RowError`` with its row number while every other record is still read."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from dispatcher.intake import decoding
from dispatcher.intake.rows import RowError

# No valid row comes near it (every field has a bound well below); a longer record is a
# runaway quote or not a data file, and is rejected without reading it into memory whole.
RECORD_LIMIT = 65_536
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
Row = tuple[int, dict[str, Any] | RowError]


class FileProblem(ValueError):
    """The file as a whole cannot be read (its encoding or its CSV header)."""


class _RecordTooLong(Exception):
    pass


class _Lines:
    """The physical lines of a text stream, each read with a bound, raising
    ``_RecordTooLong`` (once, the rest of that line skipped) when the record being read
    passes ``RECORD_LIMIT`` characters; ``start`` begins a new record."""

    def __init__(self, text: TextIO) -> None:
        self.text = text
        self.size = 0

    def start(self) -> None:
        self.size = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(RECORD_LIMIT + 1 - self.size)
        if not line:
            raise StopIteration
        self.size += len(line)
        if self.size > RECORD_LIMIT:
            while line and not line.endswith(("\n", "\r")):
                line = self.text.readline(RECORD_LIMIT)
            raise _RecordTooLong
        return line


class RowFile:
    """The rows of a CSV (header row; data rows numbered from 2, as a spreadsheet shows
    them) or JSON Lines file (numbered from 1), in ``encoding`` or the one its start shows."""

    def __init__(self, path: Path, encoding: str | None = None) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._raw = path.open("rb")
        try:
            self.encoding = decoding.sniff(self._raw.read(64), encoding)
        except decoding.UnknownEncoding:
            self._raw.close()
            raise
        self._raw.seek(0)
        self._suggestion: str | None = None
        self._suggested = False

    def position(self) -> int:
        """How many bytes of the file have been read so far."""
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()

    def __iter__(self) -> Iterator[Row]:
        text = decoding.open_text(self._raw, self.encoding)
        try:
            if self.path.suffix.lower() in JSON_SUFFIXES:
                yield from self._json_rows(_Lines(text))
            else:
                yield from self._csv_rows(_Lines(text))
        finally:
            text.detach()  # the file stays open (and its position known) until close()

    def _json_rows(self, lines: _Lines) -> Iterator[Row]:
        number = 0
        while True:
            number += 1
            lines.start()
            try:
                line = next(lines)
            except StopIteration:
                return
            except _RecordTooLong:
                yield number, self._too_long(number)
                continue
            if not line.strip():
                continue
            if decoding.undecodable(line):
                yield number, self._undecodable(number, line)
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, RowError(number, "(line)", f"not valid JSON: {exc.msg}")
                continue
            except (ValueError, RecursionError) as exc:  # a huge integer, deep nesting
                yield number, RowError(number, "(line)", f"not valid JSON: {_reason(exc)}")
                continue
            if not isinstance(value, dict):
                yield number, RowError(number, "(line)", "not a JSON object")
                continue
            yield number, value

    def _csv_rows(self, lines: _Lines) -> Iterator[Row]:
        reader = csv.reader(lines)
        header = self._header(reader, lines)
        if header is None:
            return
        number = 1
        while True:
            number += 1
            lines.start()
            try:
                values = next(reader)
            except StopIteration:
                return
            except _RecordTooLong:
                yield number, self._too_long(number)
                continue
            except csv.Error as exc:
                yield number, RowError(number, "(record)", f"not valid CSV: {exc}")
                continue
            # Numbered by record, not by physical line: a quoted cell may span lines and a
            # spreadsheet still shows the record as one row.
            if not values:
                continue
            if len(values) > len(header):
                yield number, RowError(number, "(line)", "more values than header columns")
                continue
            joined = "\x1f".join(values)
            if decoding.undecodable(joined):
                yield number, self._undecodable(number, ",".join(values))
                continue
            yield number, dict(zip(header, values, strict=False))

    def _header(self, reader: Any, lines: _Lines) -> list[str] | None:
        lines.start()
        try:
            header = next(reader, None)
        except (_RecordTooLong, csv.Error):
            raise FileProblem("row 1 (the header) cannot be read as CSV column names") from None
        if header is None:
            return None
        if decoding.undecodable(",".join(header)):
            raise FileProblem(
                f"row 1 (the header): {self._undecodable(1, ','.join(header)).message}"
            )
        names = [name.strip() for name in header]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise FileProblem(f"row 1 (the header): column given twice: {', '.join(repeated)}")
        return names

    def _too_long(self, number: int) -> RowError:
        return RowError(
            number,
            "(record)",
            f"longer than {RECORD_LIMIT:,} characters (an unclosed quote?);"
            " read on from the next line",
        )

    def _undecodable(self, number: int, text: str) -> RowError:
        if not self._suggested:
            self._suggested = True
            sample = decoding.original_bytes(text, self.encoding)
            found = decoding.suggest(sample)
            self._suggestion = found if found and found != self.encoding else None
        hint = (
            f"; it may be {self._suggestion}: try --encoding {self._suggestion}"
            if self._suggestion
            else "; give the file's encoding with --encoding"
        )
        return RowError(number, "(record)", f"bytes that are not valid {self.encoding}{hint}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0][:120]


def read_rows(path: Path, encoding: str | None = None) -> Iterator[Row]:
    """Rows of a CSV or JSON Lines file (see ``RowFile``)."""
    rows = RowFile(path, encoding)
    try:
        yield from rows
    finally:
        rows.close()
