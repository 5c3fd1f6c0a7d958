"""Structured logs to stdout, one event per line, logfmt or JSON, through one privacy filter.

Call sites pass structured data as ``extra={"fields": {...}}``. ``PrivacyFilter`` sits on the
only handler, so every record — ours and third-party libraries' — is masked in one place:
fields named like personal data (``to``, ``contact``, ``phone``, ``email``, ``address``,
``name``) are masked by kind, and phone numbers and email addresses inside any other text
(messages, provider errors, tracebacks) are masked too.

When stdout is the journal (systemd sets ``JOURNAL_STREAM`` to its device and inode), each
line starts with its syslog priority (``<3>`` error, ``<4>`` warning, ``<6>`` info, ``<7>``
debug), so ``journalctl -p err`` finds the errors. A fatal error is one line; its traceback
is logged only at debug level (``fatal``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from dispatcher.dispatch.store_health import failure_reason
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


# syslog priorities (RFC 5424), as sd-daemon(3) reads them at the start of a line.
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def priority(level: int) -> int:
    """The syslog priority of a logging level (a level between two takes the lower's)."""
    for threshold, value in PRIORITIES.items():  # from the most severe down
        if level >= threshold:
            return value
    return 7


def on_journal(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` is the journal: ``JOURNAL_STREAM`` (``device:inode``) names the file
    it writes to. A stream redirected elsewhere by a child keeps the variable but not the file."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # no file behind it (a test's StringIO)
        return False
    return (stat.st_dev, stat.st_ino) == (int(device), int(inode))


class StructuredFormatter(logging.Formatter):
    def __init__(self, style: str = "logfmt", *, priorities: bool = False) -> None:
        super().__init__()
        self.style = style
        self.priorities = priorities

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
            line = json.dumps(fields, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())
        return f"<{priority(record.levelno)}>{line}" if self.priorities else line


def setup_logging(
    style: str = "logfmt", level: str = "info", stream: IO[str] | None = None
) -> None:
    """Send every log record to ``stream`` (stdout: the journal), masked and structured."""
    stream = stream or sys.stdout
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(StructuredFormatter(style, priorities=on_journal(stream)))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter at info level is noise in the journal (fontTools logs every table it
    # subsets, for each letter).
    for noisy in ("apscheduler", "aiohttp.access", "fontTools", "twilio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fatal(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """A fatal error as one line (its type and the first line of its text, masked); the
    traceback only when the level is debug."""
    logger.error(message, extra={"fields": {"error": failure_reason(exc)}})
    logger.debug("the traceback of the error above", exc_info=exc)
