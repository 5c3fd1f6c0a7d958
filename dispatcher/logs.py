"""Structured logs to stdout, one event per line, logfmt or JSON.

Call sites pass structured data as ``extra={"fields": {...}}``; values are written as given,
so personal data must already be masked (``dispatcher.privacy``). As a last line of defence
every message and string field passes ``privacy.scrub``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from dispatcher.privacy import scrub


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
            "msg": scrub(record.getMessage()),
        }
        for key, value in (getattr(record, "fields", None) or {}).items():
            fields[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            fields["exc"] = scrub(self.formatException(record.exc_info))
        if self.style == "json":
            return json.dumps(fields, ensure_ascii=False, default=str)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


def setup_logging(style: str = "logfmt", level: str = "info") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(StructuredFormatter(style))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party chatter at info level is noise in the journal.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
