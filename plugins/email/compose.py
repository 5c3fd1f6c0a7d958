"""One reminder as an RFC 5322 message: text and (when the template has one) HTML as
``multipart/alternative``, UTF-8 throughout, a Message-ID derived from the attempt id, and
the one-click unsubscribe headers of RFC 8058.

Written out directly rather than through ``email.message.EmailMessage``: that builds and
folds a whole object tree per message (about a millisecond each), which would make composing
the bottleneck of a send. Every part is base64 UTF-8 and every non-ASCII header an RFC 2047
encoded word, so the result is 7-bit clean and any relay takes it.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from dispatcher.channel import Message

_NOT_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]")
_CRLF = re.compile(r"\r\n|\r|\n")
_LONGEST_PLAIN_HEADER = 900  # of 998 allowed (RFC 5322 §2.1.1), leaving room for the name


def message_id(attempt_id: str, domain: str) -> str:
    """``<attempt@domain>``: the same attempt always gets the same id, so a receiver that sees
    one message twice (a send whose reply was lost, then resent) can tell."""
    return f"<{_NOT_ATOM.sub('-', attempt_id)}@{domain}>"


def header_value(name: str, value: str) -> str:
    """``value`` as it may stand after ``name:`` on the wire: as is when short ASCII without
    line breaks, else RFC 2047 encoded words (UTF-8), folded."""
    value = _CRLF.sub(" ", value)
    if value.isascii() and len(value) <= _LONGEST_PLAIN_HEADER:
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def mailbox_header(value: str) -> str:
    """``Name <addr>`` with the display name encoded when it is not ASCII."""
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8")


def _part(content_type: str, text: str) -> str:
    raw = _CRLF.sub("\r\n", text).encode("utf-8")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    encoded = base64.encodebytes(raw).decode("ascii").replace("\n", "\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + encoded
    )


def compose(
    message: Message,
    *,
    sender: str,
    reply_to: str | None,
    id_domain: str,
    unsubscribe_url: str,
    now: datetime | None = None,
) -> bytes:
    """The message as the bytes sent after DATA (CRLF line ends, 7-bit). ``sender`` and
    ``reply_to`` are header-ready (``mailbox_header``)."""
    mid = message_id(message.attempt_id, id_domain)
    headers = [
        f"From: {sender}",
        f"To: {message.contact}",
        *([f"Reply-To: {reply_to}"] if reply_to else []),
        f"Subject: {header_value('Subject', message.subject or '')}",
        f"Date: {format_datetime(now or datetime.now(UTC))}",
        f"Message-ID: {mid}",
        f"List-Unsubscribe: <{unsubscribe_url}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        # A reminder is sent by a program: auto-responders must not answer it (RFC 3834).
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
    ]
    text = _part("text/plain", message.body)
    if not message.html:
        return ("\r\n".join(headers) + "\r\n" + text).encode("ascii")
    # "=_" cannot occur in base64 text, so the boundary never collides with a part.
    boundary = f"=_{_NOT_ATOM.sub('-', message.attempt_id)}"
    headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    body = (
        f"\r\n--{boundary}\r\n{text}"
        f"--{boundary}\r\n{_part('text/html', message.html)}"
        f"--{boundary}--\r\n"
    )
    return ("\r\n".join(headers) + "\r\n" + body).encode("ascii")
