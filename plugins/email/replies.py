"""What an SMTP server's refusal means for a reminder: RFC 5321 reply codes, refined by the
RFC 3463 enhanced status code (``5.1.1``) when the reply carries one.

- 4xx anywhere: try again later.
- 5xx while setting up the connection (greeting, EHLO, STARTTLS, AUTH) or at MAIL, and any
  authentication refusal: the sender's or the server's configuration, not this reminder.
  ``ServerSetupError``, transient with a long ``retry_after``, so reminders stay queued until
  an administrator fixes it.
- 5xx at RCPT or DATA with an enhanced code: ``5.1.x`` (bad mailbox, domain, syntax) and
  ``5.2.1`` (mailbox disabled) mark the address undeliverable; ``5.2.2`` (mailbox full) is
  transient with a long ``retry_after``; anything else (``5.7.x`` policy, spam, ``5.6.x``
  content, …) fails this reminder and leaves the address alone.
- 5xx at RCPT without an enhanced code (or with ``x.0.0``, which says nothing): 550, 551 and
  553 mark the address; 552 is a full mailbox (RFC 5321 §4.5.3.1.10); others fail the
  reminder. At DATA a bare code does not say whether the recipient or the content was
  refused, so it never marks the address.

A refusal is a reply: the server did not take the message, so none of these is ``attempted``.
"""

from __future__ import annotations

import re

from dispatcher.channel import ChannelError, PermanentError, TransientError
from dispatcher.privacy import scrub

# Seconds before a reminder refused for a configuration problem is tried again.
SETUP_RETRY_AFTER = 300.0
# A full mailbox is rarely emptied within minutes.
MAILBOX_FULL_RETRY_AFTER = 3600.0

SETUP_STAGES = frozenset({"greeting", "ehlo", "starttls", "auth", "mail"})
# RFC 4954: authentication required, mechanism too weak, credentials invalid, encryption
# required for the mechanism. Whatever the stage, they are about our login.
_AUTH_CODES = frozenset({530, 534, 535, 538})
# Enhanced codes about the sender, not the recipient: bad sender mailbox syntax (5.1.7) or
# system (5.1.8), credentials invalid (5.7.8), mechanism too weak (5.7.9), encryption needed
# (5.7.11).
_SENDER_STATUSES = frozenset({(1, 7), (1, 8), (7, 8), (7, 9), (7, 11)})
_RCPT_ADDRESS_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


class ServerSetupError(TransientError):
    """A refusal caused by the sender's or the server's configuration (login, sender address,
    relay policy for our host): every message fails alike until it is fixed. ``stage`` is the
    SMTP stage that refused; ``status`` the enhanced code, if the reply had one."""

    def __init__(self, message: str, *, stage: str, code: str, status: str | None = None) -> None:
        super().__init__(
            message, retry_after=SETUP_RETRY_AFTER, code=code, attempted=False, channel_down=True
        )
        self.stage = stage
        self.status = status


def enhanced_status(reply: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status code opening ``reply`` (the text after the basic code)."""
    found = _ENHANCED.match(reply)
    if found is None:
        return None
    klass, subject, detail = (int(part) for part in found.groups())
    return klass, subject, detail


def refusal(stage: str, code: int, reply: str) -> ChannelError:
    """The error for the reply ``code`` ``reply`` to the command of ``stage`` (``greeting``,
    ``ehlo``, ``starttls``, ``auth``, ``mail``, ``rcpt`` or ``data``)."""
    text = f"server refused {stage.upper()} with {code}: {scrub(reply)[:200]}"
    status = enhanced_status(reply)
    if status is not None and status[0] != code // 100:
        status = None  # contradicts the basic code: trust neither detail
    detail = status[1:] if status is not None and status[1:] != (0, 0) else None
    if code < 500:
        return TransientError(text, code=str(code))
    if stage in SETUP_STAGES or code in _AUTH_CODES or detail in _SENDER_STATUSES:
        return ServerSetupError(
            text,
            stage=stage,
            code=str(code),
            status=".".join(map(str, status)) if status else None,
        )
    if detail is not None:
        if detail[0] == 1 or detail == (2, 1):
            return PermanentError(text, code=str(code), mark_contact="invalid")
        if detail == (2, 2):
            return TransientError(text, code=str(code), retry_after=MAILBOX_FULL_RETRY_AFTER)
        return PermanentError(text, code=str(code))
    if stage == "rcpt" and code in _RCPT_ADDRESS_CODES:
        return PermanentError(text, code=str(code), mark_contact="invalid")
    if stage == "rcpt" and code == 552:
        return TransientError(text, code=str(code), retry_after=MAILBOX_FULL_RETRY_AFTER)
    return PermanentError(text, code=str(code))
