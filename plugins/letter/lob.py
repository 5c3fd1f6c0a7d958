"""Lob's print-and-mail API: one ``POST /v1/letters`` per letter, with the PDF as the file.

Answers: 200 is a letter Lob will print; 422 an address Lob cannot mail to (the address is
marked undeliverable); other 4xx a request Lob refuses; 429 and 5xx, no connection or no
answer are worth trying again. The attempt id is the idempotency key, so a retry of the same
attempt never prints a second letter.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import aiohttp
from dispatcher_plugins.letter.address import Recipient
from dispatcher_plugins.letter.settings import LetterSettings

from dispatcher.channel import PermanentError, SendResult, TransientError


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
            reply = await response.json(content_type=None) if status == 200 else None
    except aiohttp.ClientConnectorError:
        raise TransientError("Lob unreachable", code="connect") from None
    except (TimeoutError, aiohttp.ClientError):
        # Lob may have taken the letter: it counts, and the idempotency key guards a retry.
        raise TransientError("no answer from Lob", code="no_answer", attempted=True) from None
    return _answer(status, retry_after, reply)


def _answer(status: int, retry_after: str, reply: object) -> SendResult:
    # Error texts never quote Lob's reply: it may repeat the address.
    if status == 429 or status >= 500:
        wait = float(retry_after) if retry_after.isdigit() else None
        raise TransientError(f"Lob answered {status}", retry_after=wait, code=str(status))
    if status == 422:
        raise PermanentError(
            "Lob cannot mail to this address", mark_contact="invalid", code=str(status)
        )
    if status != 200:
        raise PermanentError(f"Lob refused the letter ({status})", code=str(status))
    letter_id = reply.get("id") if isinstance(reply, dict) else None
    return SendResult(provider_id=str(letter_id) if letter_id else None)
