"""Contract tests against Twilio's own published API description (``../shared/peers/
twilio-mock``: the OpenAPI spec served by Prism, which checks every request against it): the
channels' requests are what Twilio accepts, and Twilio-shaped errors map as POLICY.md says.
Skipped when ``../shared`` or Node is absent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dispatcher_plugins.sms import SmsChannel, SmsSettings
from dispatcher_plugins.twilio_common.channel import TwilioChannel
from dispatcher_plugins.voice import VoiceChannel, VoiceSettings

from dispatcher.channel import PermanentError, TransientError
from dispatcher.model import ContactKind, Outcome
from dispatcher.store import open_store
from dispatcher.testing import sample_message
from dispatcher.testing.twilio_peer import ACCOUNT_SID
from tests.conftest import REPO, free_port, wait_for
from tests.plugins.twilio.voice_nodes import script_services

MOCK = REPO.parent / "shared" / "peers" / "twilio-mock"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def twilio_mock() -> Iterator[str]:
    if not MOCK.exists():
        pytest.skip(f"no Twilio API mock at {MOCK} (../shared/peers is not checked out here)")
    if not (shutil.which("npx") and shutil.which("node")):
        pytest.skip("the Twilio API mock needs Node.js (node and npx on PATH)")
    port = free_port()
    process = subprocess.Popen(
        [str(MOCK)],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # The first run installs Prism (a minute); later ones start in seconds.
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=180)
        if process.poll() is not None:
            pytest.skip("the Twilio API mock did not start (see ../shared/peers/README.md)")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def settings(api_base: str) -> dict[str, Any]:
    return {
        "account_sid": ACCOUNT_SID,
        "auth_token": "any-token-will-do",
        "from_number": "+12025550100",
        "status_callback_base": "https://dispatch.example.com",
        "api_base": api_base,
        "max_rate": 1000,
        "timeout": "10s",
    }


@pytest.fixture
async def sms(twilio_mock: str) -> Any:
    channel = SmsChannel("sms", SmsSettings(**settings(twilio_mock)))
    await channel.open()
    yield channel
    await channel.close()


@pytest.fixture
async def voice(twilio_mock: str, tmp_path: Path) -> Any:
    # A call's script is kept in the store before the call is placed, as in the daemon.
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    channel = VoiceChannel("voice", VoiceSettings(**settings(twilio_mock)))
    channel.attach(script_services(store))
    await channel.open()
    yield channel
    await channel.close()
    store.close()


def prefer(channel: TwilioChannel, answer: str) -> None:
    """Ask Prism for one of the spec's answers (``code=400, example=unsubscribed``)."""
    channel.client.http_client.extra_headers = {"Prefer": answer}  # type: ignore[attr-defined]


async def test_twilio_accepts_the_sms_request(sms: SmsChannel) -> None:
    result = await sms.send(sample_message(ContactKind.PHONE))
    assert result.provider_id and result.provider_id.startswith("SM")


async def test_twilio_accepts_the_call_request(voice: VoiceChannel) -> None:
    message = replace(
        sample_message(ContactKind.PHONE), meta={"voicemail_body": "Please call us back."}
    )
    result = await voice.send(message)
    assert result.outcome is Outcome.PLACED
    assert result.provider_id and result.provider_id.startswith("CA")


@pytest.mark.parametrize(
    ("answer", "code", "mark"),
    [
        ("code=400, example=unsubscribed", "21610", "opted_out"),
        ("code=400, example=invalid_to", "21211", "invalid"),
    ],
)
async def test_twilio_refusals_are_permanent(
    sms: SmsChannel, answer: str, code: str, mark: str
) -> None:
    prefer(sms, answer)
    with pytest.raises(PermanentError) as raised:
        await sms.send(sample_message(ContactKind.PHONE))
    assert (raised.value.code, raised.value.mark_contact) == (code, mark)


@pytest.mark.parametrize(("answer", "attempted"), [("code=429", False), ("code=500", False)])
async def test_twilio_rate_limits_and_outages_are_transient(
    sms: SmsChannel, answer: str, attempted: bool
) -> None:
    prefer(sms, answer)
    with pytest.raises(TransientError) as raised:
        await sms.send(sample_message(ContactKind.PHONE))
    assert raised.value.attempted is attempted
