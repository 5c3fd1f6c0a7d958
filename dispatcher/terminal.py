"""Text from the store shown in a terminal as it was written, never as what it would do.

An id or reason imported from a lender's file may hold ESC (which starts colour codes and
OSC-8 hyperlinks), carriage returns that overwrite a line, bidi overrides that reorder it, or
rich's ``[markup]``. Every table and line ``explain``, ``status``, ``simulate``, ``plugins``
and ``check`` print passes what it shows through ``printable`` (or ``cell`` for a table).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.text import Text

# Cc: C0 and C1 controls (ESC, BEL, CR, newline, DEL); Cf: invisible format characters (bidi
# overrides, zero-width joiners); Zl/Zp: line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as text with each control or invisible format character written as an
    escape (ESC as ``\\x1b``, U+202E as ``\\u202e``); other text, CJK included, unchanged."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(
        _escaped(char) if unicodedata.category(char) in _HIDDEN else char for char in text
    )


def cell(value: Any) -> Text:
    """A table cell showing ``value`` through ``printable``, never read as rich markup."""
    return Text(printable(value))
