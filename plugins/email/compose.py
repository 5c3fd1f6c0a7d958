"""One reminder as an RFC 5322 message: text and (when the template has one) HTML as
``multipart/alternative``, UTF-8 throughout, a Message-ID derived from the attempt id, and
the one-click unsubscribe headers of RFC 8058."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from dispatcher.channel import Message

_NOT_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]")


def message_id(attempt_id: str, domain: str) -> str:
    """``<attempt@domain>``: the same attempt always gets the same id, so a receiver that sees
    one message twice (a send whose reply was lost, then resent) can tell."""
    return f"<{_NOT_ATOM.sub('-', attempt_id)}@{domain}>"


def compose(
    message: Message,
    *,
    sender: str,
    reply_to: str | None,
    id_domain: str,
    unsubscribe_url: str,
    now: datetime | None = None,
) -> bytes:
    """The message as the bytes sent after DATA (CRLF line ends, 7-bit safe)."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = message.contact
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    mail["Message-ID"] = message_id(message.attempt_id, id_domain)
    mail["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # A reminder is sent by a program: auto-responders must not answer it (RFC 3834).
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body, charset="utf-8")
    if message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail.as_bytes()
