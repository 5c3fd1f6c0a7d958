"""The Lob provider's request: against a loopback server that reads every field, and against
Lob's published spec served by Prism (``../shared/peers/lob-mock``), which validates it."""

from __future__ import annotations

import base64
import email
import email.policy
import json
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
from dispatcher_plugins.letter.lob import letter_form
from dispatcher_plugins.letter.settings import LetterSettings

from dispatcher.model import ContactKind
from dispatcher.testing import HttpPeer, Reply
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
        return message.attempt_id, await channel.send(message)
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
