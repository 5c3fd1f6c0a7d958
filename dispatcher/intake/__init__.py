"""Intake: rows from CSV and JSON Lines files or the API → people and cases.

- ``rows``: one validation for every source (``parse_row``, ``parse_person``, ``parse_case``)
- ``files``: the rows of a file, numbered as a spreadsheet or an editor shows them
"""

from dispatcher.intake.files import count_rows, read_rows
from dispatcher.intake.rows import (
    FIELDS,
    GoodRow,
    RowError,
    parse_case,
    parse_person,
    parse_row,
)

__all__ = [
    "FIELDS",
    "GoodRow",
    "RowError",
    "count_rows",
    "parse_case",
    "parse_person",
    "parse_row",
    "read_rows",
]
