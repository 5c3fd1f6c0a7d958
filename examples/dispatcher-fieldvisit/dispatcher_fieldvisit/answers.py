"""What the CRM's answers mean to the core: a placed task, or an error the core knows how to
handle. Nothing here names the person: error texts are stored and logged."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from dispatcher.channel import PermanentError, SendResult, TransientError

# The CRM's own error code, passed on when it looks like one (never free text: it may quote
# the address).
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
# Worth trying again: timeout at the CRM, too early, rate limited, and every server error.
_TRANSIENT = {408, 425, 429}


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def error_code(reply: Any) -> str | None:
    code = reply.get("error") if isinstance(reply, dict) else None
    return code if isinstance(code, str) and _ERROR_CODE.match(code) else None


def placed(reply: Any) -> SendResult:
    """A 2xx: the task exists. Its id (``task_id`` or ``id``) lets a later callback find it."""
    task = None
    if isinstance(reply, dict):
        task = reply.get("task_id", reply.get("id"))
    provider_id = str(task)[:200] if isinstance(task, str | int) and str(task) else None
    return SendResult(provider_id=provider_id, detail="visit task created")


def refused(status: int, reply: Any, retry_after_header: str | None, now: datetime) -> Exception:
    """The error for a non-2xx answer."""
    code = error_code(reply)
    if status in _TRANSIENT or status >= 500:
        # The CRM says it did not create the task; a retry carries the same idempotency key.
        return TransientError(
            f"CRM answered {status}",
            retry_after=retry_after(retry_after_header, now),
            code=code or f"http_{status}",
        )
    if status == 422 and code == "address_invalid":
        return PermanentError(
            "CRM cannot visit this address", mark_contact="invalid", code="address_invalid"
        )
    if status in (401, 403):
        return PermanentError(
            f"CRM refused the signature ({status}): check the channel's secret",
            code=code or f"http_{status}",
        )
    if 300 <= status < 400:
        return PermanentError(
            f"CRM redirected ({status}): set endpoint to the final URL", code=f"http_{status}"
        )
    return PermanentError(f"CRM refused the visit task ({status})", code=code or f"http_{status}")
