"""Masking of personal data for logs, ``explain`` and ``status``.

Phone numbers keep their last two digits, email addresses the first letter and the domain,
names their initials; postal addresses are reduced to a marker. Enough to tell two records
apart, never enough to contact anyone.
"""

from __future__ import annotations

import re

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
