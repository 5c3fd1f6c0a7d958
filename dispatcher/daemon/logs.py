"""Structured logs to stdout, one event per line, logfmt or JSON, through one privacy filter.

Call sites pass structured data as ``extra={"fields": {...}}``. ``PrivacyFilter`` sits on the
only handler, so every record — ours and third-party libraries' — is masked in one place:
fields named like personal data (``to``, ``contact``, ``phone``, ``email``, ``address``,
``name``) are masked by kind, and phone numbers and email addresses inside any other text
(messages, provider errors, tracebacks) are masked too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dispatcher.privacy import (
    mask_address,
    mask_contact,
    mask_email,
    mask_name,
    mask_phone,
    scrub,
)

PERSONAL_FIELDS: dict[str, Callable[[str], str]] = {
    "to": mask_contact,
    "contact": mask_contact,
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_address,
    "name": mask_name,
}


class PrivacyFilter(logging.Filter):
    """Masks personal data in a record before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = {key: self._mask(key, value) for key, value in fields.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True

    @staticmethod
    def _mask(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        masker = PERSONAL_FIELDS.get(key)
        return masker(value) if masker else scrub(value)


def _logfmt_value(value: Any) -> str:
    text = "" if value is None else str(value)
    if text == "" or any(c in text for c in ' ="\\\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class StructuredFormatter(logging.Formatter):
    def __init__(self, style: str = "logfmt") -> None:
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", None) or {})
        if record.exc_text:
            fields["exc"] = record.exc_text
        if self.style == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


def setup_logging(style: str = "logfmt", level: str = "info") -> None:
    """Send every log record to stdout (the journal), masked and structured."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(StructuredFormatter(style))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter at info level is noise in the journal (fontTools logs every table it
    # subsets, for each letter).
    for noisy in ("apscheduler", "aiohttp.access", "fontTools", "twilio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
