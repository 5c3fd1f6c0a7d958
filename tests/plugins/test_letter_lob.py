"""The Lob provider's request: against a loopback server that reads every field, and against
Lob's published spec served by Prism (``../shared/peers/lob-mock``), which validates it; and
what each of Lob's answers means, at the loopback server."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message as MimeMessage
from typing import Any

import aiohttp
import pytest
from dispatcher_plugins.letter import LetterChannel
from dispatcher_plugins.letter.lob import SETUP_RETRY_AFTER, LobSetupError, letter_form
from dispatcher_plugins.letter.settings import LetterSettings

from dispatcher.channel import Message, PermanentError, TransientError
from dispatcher.model import ContactKind
from dispatcher.testing import HttpPeer, Reply, deliver
from dispatcher.testing.samples import sample_message
from tests.conftest import REPO, free_port, wait_for
from tests.plugins.test_letter_contract import SENDER

KEY = "test_0123456789abcdef"
US_ADDRESS = "210 King St\n# 6100\nSan Francisco, CA 94107"


def lob_settings(base_url: str, **extra: Any) -> LetterSettings:
    return LetterSettings.model_validate(
        {
            "provider": "lob",
            "page_size": "letter",
            "base_url": base_url,
            "api_key": KEY,
            "sender": SENDER,
            **extra,
        }
    )


def form_fields(body: bytes, content_type: str) -> dict[str, MimeMessage]:
    parsed = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    return {
        part.get_param("name", header="content-disposition"): part for part in parsed.iter_parts()
    }  # type: ignore[attr-defined, misc]


async def send_one(settings: LetterSettings) -> tuple[str, Any]:
    channel = LetterChannel("letter", settings)
    message = sample_message(
        ContactKind.POSTAL, body="Pat Example\n\nDear Pat,\n\n您好", contact=US_ADDRESS
    )
    await channel.open()
    try:
        return message.attempt_id, await deliver(channel, message)
    finally:
        await channel.close()


async def test_the_request_lob_gets(http_peer: HttpPeer) -> None:
    http_peer.respond = lambda request: Reply(200, json={"id": "ltr_1"})
    settings = lob_settings(http_peer.url, extra_service="certified", send_delay="2d")

    attempt_id, result = await send_one(settings)

    [request] = http_peer.received
    assert (request.method, request.path) == ("POST", "/v1/letters")
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    )
    assert request.headers["Idempotency-Key"] == attempt_id
    fields = form_fields(request.body, request.headers["Content-Type"])
    text = {name: part.get_content() for name, part in fields.items() if name != "file"}
    assert text["to[name]"] == "Pat Example"
    assert (text["to[address_line1]"], text["to[address_line2]"]) == ("210 King St", "# 6100")
    assert (text["to[address_city]"], text["to[address_state]"]) == ("San Francisco", "CA")
    assert text["to[address_zip]"] == "94107" and text["from[name]"] == "Acme Lending"
    assert text["use_type"] == "operational" and text["color"] == "false"
    assert text["mail_type"] == "usps_first_class" and text["extra_service"] == "certified"
    assert text["send_date"].endswith("Z")
    pdf = fields["file"].get_payload(decode=True)
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF-")
    assert fields["file"].get_content_type() == "application/pdf"
    assert result.provider_id == "ltr_1"


LOB_MOCK = REPO.parent / "shared" / "peers" / "lob-mock"


@pytest.fixture(scope="module")
def lob_mock() -> Iterator[str]:
    if not LOB_MOCK.exists():
        pytest.skip(f"Lob's spec server is absent ({LOB_MOCK} not found)")
    if shutil.which("npx") is None or shutil.which("node") is None:
        pytest.skip("Lob's spec server needs node and npx, which are not installed")
    port = free_port()
    process = subprocess.Popen(
        [str(LOB_MOCK)],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=90)
        if process.poll() is not None:
            pytest.fail("lob-mock exited before it listened")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_lobs_published_spec_accepts_the_request(lob_mock: str) -> None:
    settings = lob_settings(lob_mock, extra_service="certified", send_delay="1d")
    channel = LetterChannel("letter", settings)
    message = sample_message(ContactKind.POSTAL, body="Pat Example\n\nDear Pat", contact=US_ADDRESS)
    pdf, to = channel.render(message)
    form = letter_form(settings, message.attempt_id, to, pdf, datetime.now(UTC))
    key = base64.b64encode(f"{KEY}:".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{lob_mock}/v1/letters",
            data=form,
            headers={"Authorization": f"Basic {key}", "Idempotency-Key": message.attempt_id},
        ) as response,
    ):
        violations = json.loads(response.headers.get("sl-violations", "[]"))
    # Prism reads multipart fields as flat strings: it cannot see Lob's bracketed to[...] and
    # from[...] objects and reports them missing. Every other field must satisfy the spec.
    rest = [v for v in violations if v["message"] not in MISSING_TO_FROM]
    assert rest == [], rest


MISSING_TO_FROM = {
    "Request body must have required property 'to'",
    "Request body must have required property 'from'",
}


# -- what Lob's answers mean, at the loopback server ------------------------------------------

SETUP, RETRY, MAYBE_SENT, INVALID, FAILED = "setup", "retry", "maybe sent", "invalid", "failed"


def outcome(error: Exception) -> str:
    if isinstance(error, LobSetupError):
        assert error.retry_after == SETUP_RETRY_AFTER and not error.attempted
        return SETUP
    if isinstance(error, TransientError):
        return MAYBE_SENT if error.attempted else RETRY
    assert isinstance(error, PermanentError) and not error.attempted
    return INVALID if error.mark_contact == "invalid" else FAILED


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, SETUP),  # bad API key
        (403, SETUP),  # the key may not create letters
        (404, SETUP),  # wrong base_url
        (422, INVALID),
        (400, FAILED),
        (413, FAILED),
        (429, RETRY),
        (503, RETRY),
        (500, MAYBE_SENT),
        (502, MAYBE_SENT),
        (504, MAYBE_SENT),
    ],
)
async def test_lobs_answer_is_classified(http_peer: HttpPeer, status: int, expected: str) -> None:
    http_peer.respond = lambda request: Reply(status, json={"error": {"message": "no"}})
    with pytest.raises((TransientError, PermanentError)) as failed:
        await send_one(lob_settings(http_peer.url))
    assert outcome(failed.value) == expected
    assert failed.value.code == str(status)
    assert http_peer.requests == 1


async def test_no_answer_may_have_created_a_letter_no_connection_did_not(
    http_peer: HttpPeer,
) -> None:
    settings = lob_settings(http_peer.url, timeout="1s")
    stalling = http_peer.replying(Reply(200, json={"id": "ltr_1"}, stall=3))
    with stalling, pytest.raises(TransientError) as stalled:
        await send_one(settings)
    assert (stalled.value.code, stalled.value.attempted) == ("no_answer", True)

    with http_peer.down(), pytest.raises(TransientError) as down:
        await send_one(settings)
    assert (down.value.code, down.value.attempted) == ("connect", False)


async def test_an_unreadable_200_is_still_a_letter(http_peer: HttpPeer) -> None:
    http_peer.respond = lambda request: Reply(200, body=b"<html>not json")
    _, result = await send_one(lob_settings(http_peer.url))
    assert result.provider_id is None


async def test_a_refused_key_is_logged_once_without_the_key(
    http_peer: HttpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dispatcher_plugins.letter")
    channel = LetterChannel("letter", lob_settings(http_peer.url))
    await channel.open()
    try:
        with http_peer.replying(Reply(401)):
            for _ in range(3):
                with pytest.raises(LobSetupError):
                    await deliver(channel, letter())
        http_peer.respond = lambda request: Reply(200, json={"id": "ltr_2"})
        assert (await deliver(channel, letter())).provider_id == "ltr_2"
    finally:
        await channel.close()

    records = [r for r in caplog.records if r.name == "dispatcher_plugins.letter"]
    [error] = [r for r in records if r.levelno == logging.ERROR]
    assert error.fields == {"channel": "letter", "status": 401}  # type: ignore[attr-defined]
    assert any(r.getMessage() == "Lob accepts letters again" for r in records)
    assert all(KEY not in r.getMessage() + repr(vars(r)) for r in caplog.records)
    assert http_peer.requests == 4


def letter() -> Message:
    return sample_message(ContactKind.POSTAL, body="Pat Example\n\nDear Pat", contact=US_ADDRESS)
