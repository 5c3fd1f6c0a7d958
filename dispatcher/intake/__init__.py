"""Intake: rows from CSV and JSON Lines files or the API → people and cases.

- ``rows``: one validation for every source (``parse_row``, ``parse_person``, ``parse_case``),
  and the one id and time-zone rule
- ``decoding``: a file's bytes as text (byte-order marks, ``--encoding``, undecodable bytes
  marked so only their record is rejected)
- ``files``: the rows of a file, streamed, numbered as a spreadsheet or an editor shows them
- ``batches``: good rows into the store in bounded transactions; cases of other people refused
- ``wishes``: a person's wishes as text (contact hours, refused channels, a language), one
  reading for the import, the CLI and the API
- ``moratoria``: a Breathing Space moratorium given in a row's columns, recorded as the
  ``breathing-space`` event records it
"""

from dispatcher.intake.batches import Importer, store_rows
from dispatcher.intake.files import FileProblem, RowFile, read_rows
from dispatcher.intake.rows import (
    FIELDS,
    ID_PATTERN,
    GoodRow,
    RowError,
    is_id,
    is_time_zone,
    parse_case,
    parse_person,
    parse_row,
)

__all__ = [
    "FIELDS",
    "ID_PATTERN",
    "FileProblem",
    "GoodRow",
    "Importer",
    "RowError",
    "RowFile",
    "is_id",
    "is_time_zone",
    "parse_case",
    "parse_person",
    "parse_row",
    "read_rows",
    "store_rows",
]
