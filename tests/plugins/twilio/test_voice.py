"""The twilio-voice channel against a loopback Twilio: the contract suite, the call's TwiML per
locale, asynchronous answering-machine detection, and the voicemail left once, only when a
machine finished its greeting."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from dispatcher_plugins.voice import VoiceChannel, VoiceSettings

from dispatcher.model import ContactKind, Outcome
from dispatcher.testing import ChannelContract, Failure, sample_message
from dispatcher.testing.twilio_peer import INVALID_TO, SERVER_ERROR, TOO_MANY, TwilioPeer
from tests.plugins.twilio.conftest import PUBLIC, SENDER


class TestVoiceContract(ChannelContract):
    channel_class = VoiceChannel
    entry_point = "voice"

    @pytest.fixture
    def peer(self, twilio: TwilioPeer) -> TwilioPeer:
        return twilio

    @pytest.fixture
    def valid_settings(self, twilio_settings: dict[str, Any]) -> dict[str, Any]:
        return twilio_settings

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "from_number": None}, "from_number"),
            ({**valid_settings, "speech": {"en": {"language": "English"}}}, "speech"),
            ({**valid_settings, "machine_detection_timeout": 600}, "machine_detection_timeout"),
        ]

    @pytest.fixture
    def transient_failures(self, twilio: TwilioPeer) -> list[Failure]:
        return [
            Failure("rate limited (20429)", lambda channel: twilio.failing(TOO_MANY)),
            Failure("Twilio 500", lambda channel: twilio.failing(SERVER_ERROR)),
        ]

    @pytest.fixture
    def permanent_failures(self, twilio: TwilioPeer) -> list[Failure]:
        return [
            Failure(
                "invalid To (21211)",
                lambda channel: twilio.failing(INVALID_TO),
                mark_contact="invalid",
            )
        ]


@pytest.fixture
async def voice(twilio_settings: dict[str, Any]) -> Any:
    channel = VoiceChannel("voice", VoiceSettings(**twilio_settings))
    await channel.open()
    yield channel
    await channel.close()


def call_message(locale: str = "en", voicemail: str | None = "Please call us back.") -> Any:
    meta = {"voicemail": "voicemail", "voicemail_body": voicemail} if voicemail else {}
    return replace(
        sample_message(ContactKind.PHONE), channel="voice", locale=locale, body="Hello.", meta=meta
    )


async def test_a_call_speaks_the_template_in_the_locales_voice(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    message = call_message("zh-CN")
    result = await voice.send(message)
    [call] = twilio.calls
    assert call["Twiml"] == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Say language="cmn-CN" voice="Polly.Zhiyu">Hello.</Say></Response>'
    )
    assert (call["To"], call["From"]) == (message.contact, SENDER)
    assert call["StatusCallback"] == (
        f"{PUBLIC}/twilio/status?channel=voice&attempt={message.attempt_id}"
    )
    assert (call["MachineDetection"], call["AsyncAmd"]) == ("DetectMessageEnd", "true")
    assert call["AsyncAmdStatusCallback"].endswith("&event=amd")
    # Reg F §1006.14(b)(3): a placed call is an attempt, answered or not.
    assert result.outcome is Outcome.PLACED and result.provider_id.startswith("CA")

    await voice.send(call_message("en-US"))
    assert '<Say language="en-US" voice="Polly.Joanna">' in twilio.calls[1]["Twiml"]


async def test_the_voicemail_is_left_once_and_only_for_its_call(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    message = call_message()
    result = await voice.send(message)
    assert not await voice.leave_voicemail("another-attempt", "CA0")
    assert await voice.leave_voicemail(message.attempt_id, result.provider_id or "")
    assert not await voice.leave_voicemail(message.attempt_id, result.provider_id or "")
    [(sid, update)] = twilio.call_updates
    assert sid == result.provider_id
    assert "Please call us back.</Say>" in update["Twiml"]


async def test_without_a_voicemail_no_machine_detection_is_asked(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    await voice.send(call_message(voicemail=None))
    assert "MachineDetection" not in twilio.calls[0]
