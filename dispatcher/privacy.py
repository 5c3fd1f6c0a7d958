"""Masking of personal data for logs, ``explain`` and ``status``; files that hold it.

Phone numbers keep their last two digits, email addresses the first letter and the domain,
names their initials; postal addresses are reduced to a marker. Enough to tell two records
apart, never enough to contact anyone.

A file holding personal data (the store, an outbox, a letter, a backup) is created by
``open_private`` or ``create_private``: owner read and write only (0600), whatever the umask.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import IO, Any

from dispatcher.model import ContactKind

_DIGITS = re.compile(r"\d")
# International numbers (+…) and long digit runs; plain dates and times are left alone.
_PHONE_IN_TEXT = re.compile(r"\+\d[\d\s().\-]{6,}\d|\b\d{9,15}\b")
_EMAIL_IN_TEXT = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _masked(value: str) -> bool:
    # Masking twice must not turn a masked phone into "[postal address]".
    return "*" in value or value == "[postal address]"


def mask_phone(value: str) -> str:
    if _masked(value):
        return value
    digits = _DIGITS.findall(value)
    if len(digits) <= 2:
        return "*" * len(digits)
    prefix = "+" if value.strip().startswith("+") else ""
    return prefix + "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask_email(value: str) -> str:
    if _masked(value):
        return value
    local, at, domain = value.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_name(value: str) -> str:
    parts = [p for p in re.split(r"\s+", value.strip()) if p]
    if not parts:
        return ""
    return " ".join(p[0] + "." for p in parts)


def mask_address(value: str) -> str:
    return "[postal address]" if value.strip() else ""


def mask(kind: ContactKind | str, value: str) -> str:
    """Mask a contact point of the given kind."""
    kind = ContactKind(kind)
    if kind is ContactKind.PHONE:
        return mask_phone(value)
    if kind is ContactKind.EMAIL:
        return mask_email(value)
    return mask_address(value)


def mask_contact(value: str) -> str:
    """Mask an address whose kind is not known: an email, a phone number or a postal address."""
    if _masked(value):
        return value
    if "@" in value:
        return mask_email(value)
    if re.fullmatch(r"[+\d\s().\-]+", value):
        return mask_phone(value)
    return mask_address(value)


def scrub(text: str) -> str:
    """Mask phone numbers and email addresses found in free text (error messages, provider
    replies) before it reaches a log."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text)


# Owner read and write only: the umask can take bits away from this, never add any.
PRIVATE_MODE = 0o600


def open_private(path: str | Path, mode: str = "wb", **options: Any) -> IO[Any]:
    """``open(path, mode)`` for writing (``w``, ``a`` or ``x``, text or binary), creating the
    file 0600 whatever the umask; an existing file keeps its mode. ``options`` go to
    ``open`` (``buffering``, ``encoding``)."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    if "a" in mode:
        flags |= os.O_APPEND
    elif "x" in mode:
        flags |= os.O_EXCL
    else:
        flags |= os.O_TRUNC
    descriptor = os.open(path, flags, PRIVATE_MODE)
    try:
        return os.fdopen(descriptor, mode.replace("x", "w"), **options)
    except BaseException:
        os.close(descriptor)
        raise


def create_private(path: str | Path) -> bool:
    """Create ``path`` empty and 0600 if it does not exist (for a file another library then
    opens, such as SQLite's database). An existing file loses any access for others (a store
    made by an older version under the usual umask was 0644); its group's access is the
    owner's choice and stays. Returns whether an existing file's mode had to change."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    except FileExistsError:
        mode = os.stat(path).st_mode
        if mode & 0o007:
            os.chmod(path, mode & 0o7770)
            return True
    return False
