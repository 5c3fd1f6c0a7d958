"""A file's bytes as text, whatever they are: the encoding read from a byte-order mark (UTF-8,
UTF-16 LE/BE) or given, and every byte that does not decode kept as a marker, so one bad
record is rejected with its row number and every other row is still read.

A byte that does not decode becomes the lone surrogate U+DC00 + byte (no decoder produces
those), so a record holding one is found by ``undecodable`` and its bytes are given back by
``original_bytes`` to suggest an encoding.
"""

from __future__ import annotations

import codecs
import io
import re
from typing import BinaryIO

MARK_ERRORS = "dispatcher-intake-mark"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MARKED = re.compile("[\udc00-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _mark(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error(MARK_ERRORS, _mark)


class UnknownEncoding(ValueError):
    """An ``--encoding`` that Python does not know."""


def sniff(head: bytes, given: str | None) -> str:
    """The encoding to read a file that starts with ``head``: ``given`` if any, else what
    its byte-order mark says, else UTF-16 when every other byte of its start is NUL (an
    export without a mark), else UTF-8."""
    if given:
        try:
            return codecs.lookup(given).name
        except LookupError:
            raise UnknownEncoding(
                f"unknown encoding {given!r} (e.g. utf-8, cp1252, utf-16)"
            ) from None
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    pairs = head[: len(head) - len(head) % 2]
    if len(pairs) >= 4:
        if all(pairs[i] == 0 and pairs[i + 1] != 0 for i in range(0, len(pairs), 2)):
            return "utf-16-be"
        if all(pairs[i] != 0 and pairs[i + 1] == 0 for i in range(0, len(pairs), 2)):
            return "utf-16-le"
    return "utf-8"


def undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that did not decode."""
    return _MARKED.search(text) is not None


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (an undecoded byte, or a JSON escape such as
    ``\\ud800`` that names no character): such text cannot be stored."""
    return _SURROGATE.search(text) is not None


def original_bytes(text: str, encoding: str) -> bytes:
    """The bytes ``text`` was decoded from (markers turned back into their bytes)."""
    out = bytearray()
    for piece in re.split("([\udc00-\udcff]+)", text):
        if piece and _MARKED.match(piece):
            out.extend(ord(ch) - 0xDC00 for ch in piece)
        elif piece:
            out.extend(piece.encode(encoding.replace("-sig", ""), "surrogatepass"))
    return bytes(out)


def suggest(sample: bytes) -> str | None:
    """The encoding charset-normalizer finds most likely for ``sample``, if any."""
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return None if best is None else best.encoding


def open_text(raw: BinaryIO, encoding: str) -> io.TextIOWrapper:
    """``raw`` decoded incrementally with ``encoding``, undecodable bytes marked, line ends
    kept as they are (the csv module reads them)."""
    return io.TextIOWrapper(raw, encoding=encoding, errors=MARK_ERRORS, newline="")
