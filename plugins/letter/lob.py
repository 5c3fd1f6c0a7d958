"""Lob's print-and-mail API: one ``POST /v1/letters`` per letter, with the PDF as the file.

Answers:

- 200: a letter Lob will print.
- 401, 403, 404: the API key is wrong or lacks permission, or ``base_url`` is wrong. Every
  letter would fail alike: ``LobSetupError``, transient with a long ``retry_after``, so the
  letters stay queued until the configuration is fixed.
- 422: an address Lob cannot mail to (the address is marked undeliverable); other 4xx: a
  request Lob refuses for this letter.
- 429, 503, no connection: worth trying again; Lob certainly did not take the letter.
- No answer in time, the connection lost after the request went out, 500, 502, 504: worth
  trying again, but Lob may have created the letter, so the error says ``attempted``. The
  attempt id is the idempotency key, so a retry of the *same* attempt never prints a second
  letter; a rescheduled retry has a new attempt id, which is why ``attempted`` matters.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import aiohttp
from dispatcher_plugins.letter.address import Recipient
from dispatcher_plugins.letter.settings import LetterSettings

from dispatcher.channel import PermanentError, SendResult, TransientError

# Requests to Lob at once, per channel: letters beyond wait in the channel's ``ready``.
HTTP_SLOTS = 8

# Lob keeps an idempotency key 24 hours: a letter posted again with its attempt id within that
# is never printed twice (Lob answers with the letter it made, or makes it now). Later, a
# resend could print a second letter, so an older unknown attempt stays unknown.
IDEMPOTENT_FOR = timedelta(hours=23)
# Seconds before a letter refused for a configuration problem is tried again.
SETUP_RETRY_AFTER = 300.0
_SETUP_STATUSES = {401: "API key refused", 403: "API key not permitted", 404: "no such endpoint"}
# Answers after which Lob may have created the letter all the same: an internal error, or a
# gateway that lost or timed out on the request it passed on.
_MAYBE_CREATED = frozenset({500, 502, 504})


class LobSetupError(TransientError):
    """Lob refused the key or the URL (401, 403, 404): every letter fails alike until the
    settings are fixed. Never ``attempted``."""

    def __init__(self, status: int) -> None:
        super().__init__(
            f"Lob answered {status}: {_SETUP_STATUSES[status]}; check api_key and base_url",
            retry_after=SETUP_RETRY_AFTER,
            code=str(status),
            channel_down=True,
        )
        self.status = status


def letter_form(
    settings: LetterSettings,
    attempt_id: str,
    recipient: Recipient,
    pdf: bytes,
    now: datetime,
) -> aiohttp.FormData:
    """The multipart body: nested objects as ``to[field]``, as Lob's form encoding takes them."""
    form = aiohttp.FormData()
    for field, value in recipient.lob_fields().items():
        if value:
            form.add_field(f"to[{field}]", value)
    sender = settings.sender
    sender_fields = {
        "name": sender.name,
        "address_line1": sender.address_line1,
        "address_line2": sender.address_line2,
        "address_city": sender.city,
        "address_state": sender.state,
        "address_zip": sender.zip,
        "address_country": sender.country,
    }
    for field, text in sender_fields.items():
        if text:
            form.add_field(f"from[{field}]", text)
    form.add_field("color", "true" if settings.color else "false")
    form.add_field("use_type", settings.use_type)
    form.add_field("mail_type", settings.mail_type)
    if settings.extra_service:
        form.add_field("extra_service", settings.extra_service)
    if settings.send_delay:
        send_date = (now + settings.send_delay).astimezone(UTC)
        form.add_field("send_date", send_date.isoformat(timespec="seconds").replace("+00:00", "Z"))
    form.add_field("metadata[attempt_id]", attempt_id)
    form.add_field("file", pdf, filename=f"{attempt_id}.pdf", content_type="application/pdf")
    return form


async def post_letter(
    session: aiohttp.ClientSession,
    settings: LetterSettings,
    attempt_id: str,
    form: aiohttp.FormData,
) -> SendResult:
    # Lob takes the API key as the Basic-auth user name, with no password.
    key = base64.b64encode(f"{settings.api_key.get_secret_value()}:".encode()).decode()
    try:
        async with session.post(
            f"{settings.base_url}/v1/letters",
            data=form,
            headers={"Authorization": f"Basic {key}", "Idempotency-Key": attempt_id},
            allow_redirects=False,
        ) as response:
            status = response.status
            retry_after = response.headers.get("Retry-After", "")
            reply = await _body(response) if status == 200 else None
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        # No connection was made: the request never left.
        raise TransientError("Lob unreachable", code="connect") from None
    except (TimeoutError, aiohttp.ClientError):
        # The request may have reached Lob, which may have created the letter.
        raise TransientError("no answer from Lob", code="no_answer", attempted=True) from None
    return _answer(status, retry_after, reply)


async def _body(response: aiohttp.ClientResponse) -> object:
    """The JSON of a 200; None when it cannot be read (the letter is created all the same,
    only its id is lost)."""
    try:
        return await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None


def _answer(status: int, retry_after: str, reply: object) -> SendResult:
    # Error texts never quote Lob's reply: it may repeat the address.
    if status in _SETUP_STATUSES:
        raise LobSetupError(status)
    if status == 429 or status >= 500:
        wait = float(retry_after) if retry_after.isdigit() else None
        raise TransientError(
            f"Lob answered {status}",
            retry_after=wait,
            code=str(status),
            attempted=status in _MAYBE_CREATED,
        )
    if status == 422:
        raise PermanentError(
            "Lob cannot mail to this address", mark_contact="invalid", code=str(status)
        )
    if status != 200:
        raise PermanentError(f"Lob refused the letter ({status})", code=str(status))
    letter_id = reply.get("id") if isinstance(reply, dict) else None
    return SendResult(provider_id=str(letter_id) if letter_id else None)
