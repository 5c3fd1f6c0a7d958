"""Twilio's answers classified into the channel contract's errors (codes from Twilio's error
dictionary; which means what for the policy: ../shared/design/POLICY.md)."""

from __future__ import annotations

from typing import Literal

import aiohttp
from twilio.base.exceptions import TwilioRestException

from dispatcher.channel import ChannelError, PermanentError, TransientError

OPTED_OUT = {21610}  # the number replied STOP to this sender: an opt-out of it
# The number cannot take this message now or ever: mark it, later reminders go elsewhere.
UNREACHABLE = {
    21211: "invalid To number",
    21612: "the To number cannot be reached from this sender",
    21614: "the To number is not SMS-capable",
    21635: "the To number is a landline",
    30006: "landline or unreachable carrier",
    30005: "unknown or inactive handset",
}
TOO_MANY_REQUESTS = 20429
# Delivery errors (in callbacks) worth another try later: unreachable handset, unknown.
TRANSIENT_DELIVERY = {30003, 30008}


def mark_for(code: int | None) -> Literal["invalid", "opted_out"] | None:
    """How an error code marks the number it was about."""
    if code in OPTED_OUT:
        return "opted_out"
    if code in UNREACHABLE:
        return "invalid"
    return None


def classify(exc: TwilioRestException) -> ChannelError:
    """The error to raise for a refusal of the REST API (never quotes the provider's text: it
    may name the number)."""
    code = exc.code
    shown = str(code) if code is not None else str(exc.status)
    if exc.status == 429 or code == TOO_MANY_REQUESTS:
        # Reg F §1006.14(b)(3): refused before placing, so not a contact attempt.
        return TransientError("Twilio is rate limiting (20429)", code=shown, attempted=False)
    if exc.status >= 500:
        return TransientError(f"Twilio answered {exc.status}", code=shown)
    if code in OPTED_OUT:
        return PermanentError(
            "the number has unsubscribed from this sender", mark_contact="opted_out", code=shown
        )
    if code in UNREACHABLE:
        return PermanentError(UNREACHABLE[code], mark_contact="invalid", code=shown)
    if code in TRANSIENT_DELIVERY:
        return TransientError(f"Twilio error {code}", code=shown)
    return PermanentError(f"Twilio refused the request ({exc.status}, code {code})", code=shown)


def classify_network(exc: BaseException) -> TransientError:
    """No connection: nothing was sent. No answer: the message may have gone out, so it
    counts and is not repeated at once."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientError("Twilio unreachable", code="connect")
    return TransientError("no answer from Twilio", code="no_answer", attempted=True)
