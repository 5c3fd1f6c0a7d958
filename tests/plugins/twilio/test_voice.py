"""The twilio-voice channel against a loopback Twilio: the contract suite, a call that starts
silent while asynchronous answering-machine detection listens, and detection's verdict acted on
once: the template for a person in the locale's voice, the voicemail for a machine that
finished its greeting, nothing (a hang-up) for a fax or an undecided answer. Scripts are kept
in a real SQLite store, as a daemon keeps them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dispatcher_plugins.voice import VoiceChannel, VoiceSettings

from dispatcher.channel import Message, PermanentError
from dispatcher.model import ContactKind, Outcome
from dispatcher.services import Services
from dispatcher.store import open_store
from dispatcher.store.api import Store
from dispatcher.testing import Failure, sample_message
from dispatcher.testing.twilio_peer import INVALID_TO, SERVER_ERROR, TOO_MANY, TwilioPeer
from tests.plugins.twilio.conftest import PUBLIC, SENDER, TwilioContract
from tests.plugins.twilio.voice_nodes import script_services

VOICEMAIL = "Please call us back."
VOICEMAIL_META = {"voicemail": "voicemail", "voicemail_body": VOICEMAIL}


def no_callbacks(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings without status_callback_base: no detection, so no voice channel."""
    return {k: v for k, v in settings.items() if k != "status_callback_base"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture
def services(store: Store) -> Services:
    return script_services(store)


class TestVoiceContract(TwilioContract):
    channel_class = VoiceChannel
    entry_point = "voice"

    @pytest.fixture
    def make_channel(
        self, valid_settings: dict[str, Any], services: Services
    ) -> Callable[..., VoiceChannel]:
        """The suite's channels, attached to a store as the daemon attaches them."""

        def make(settings: dict[str, Any] | None = None) -> VoiceChannel:
            model = VoiceSettings.model_validate(valid_settings if settings is None else settings)
            channel = VoiceChannel("contract", model)
            channel.attach(services)
            return channel

        return make

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "from_number": None}, "from_number"),
            ({**valid_settings, "speech": {"en": {"language": "English"}}}, "speech"),
            ({**valid_settings, "machine_detection_timeout": 600}, "machine_detection_timeout"),
            (no_callbacks(valid_settings), "status_callback_base"),
        ]

    @pytest.fixture
    def make_message(self) -> Callable[[ContactKind], Message]:
        """The sample message as a call template renders it: with its voicemail."""
        return lambda kind: replace(sample_message(kind), meta=VOICEMAIL_META)

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
async def voice(twilio_settings: dict[str, Any], services: Services) -> Any:
    channel = VoiceChannel("voice", VoiceSettings(**twilio_settings))
    channel.attach(services)
    await channel.open()
    yield channel
    await channel.close()


BODY = "Hello Jane, your account with Example Lending is 30 days overdue."


def call_message(locale: str = "en", voicemail: str | None = VOICEMAIL) -> Any:
    meta = {**VOICEMAIL_META, "voicemail_body": voicemail} if voicemail else {}
    return replace(
        sample_message(ContactKind.PHONE), channel="voice", locale=locale, body=BODY, meta=meta
    )


def shared_words(twiml: str, text: str) -> set[str]:
    """The words of ``text`` (three letters or more) that ``twiml`` contains."""
    words = {w.lower() for w in re.findall(r"\w{3,}", text)}
    return words & {w.lower() for w in re.findall(r"\w+", twiml)}


async def test_a_call_starts_silent_while_detection_listens(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    message = call_message("zh-CN")
    result = await voice.send(message)
    [call] = twilio.calls
    # Reg F §1006.2(j): nothing is said before we know who answered.
    assert not shared_words(call["Twiml"], f"{BODY} {VOICEMAIL}")
    assert "<Say" not in call["Twiml"] and "<Play" not in call["Twiml"]
    assert call["Twiml"] == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Pause length="45" /><Hangup /></Response>'  # detection's 30 s and a margin
    )
    assert (call["To"], call["From"]) == (message.contact, SENDER)
    assert call["StatusCallback"] == (
        f"{PUBLIC}/twilio/status?channel=voice&attempt={message.attempt_id}"
    )
    assert (call["MachineDetection"], call["AsyncAmd"]) == ("DetectMessageEnd", "true")
    assert call["MachineDetectionTimeout"] == "30"
    assert call["AsyncAmdStatusCallback"] == call["StatusCallback"] + "&event=amd"
    # Reg F §1006.14(b)(3): a placed call is an attempt, answered or not.
    assert result.outcome is Outcome.PLACED and result.provider_id.startswith("CA")
    assert twilio.call_updates == []


async def test_a_person_hears_the_template_in_the_locales_voice_once(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    message = call_message("zh-CN")
    sid = (await voice.send(message)).provider_id or ""
    assert await voice.answered("another-attempt", "CA0", "human") is None
    assert await voice.answered(message.attempt_id, sid, "human") == "spoken"
    assert await voice.answered(message.attempt_id, sid, "human") is None, "once"
    assert await voice.answered(message.attempt_id, sid, "machine_end_beep") is None
    [(updated, update)] = twilio.call_updates
    assert updated == sid
    assert update["Twiml"] == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Say language="cmn-CN" voice="Polly.Zhiyu">{BODY}</Say></Response>'
    )

    english = call_message("en-US")
    sid = (await voice.send(english)).provider_id or ""
    assert await voice.answered(english.attempt_id, sid, "human") == "spoken"
    assert '<Say language="en-US" voice="Polly.Joanna">' in twilio.call_updates[1][1]["Twiml"]


async def test_a_machine_gets_the_voicemail_only_at_the_end_of_its_greeting(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    message = call_message()
    sid = (await voice.send(message)).provider_id or ""
    assert await voice.answered(message.attempt_id, sid, "machine_start") is None
    assert twilio.call_updates == [], "still greeting: wait for its end"
    assert await voice.answered(message.attempt_id, sid, "machine_end_silence") == "voicemail"
    assert await voice.answered(message.attempt_id, sid, "machine_end_beep") is None, "once"
    assert await voice.answered(message.attempt_id, sid, "human") is None
    [(updated, update)] = twilio.call_updates
    assert updated == sid and f">{VOICEMAIL}</Say>" in update["Twiml"]
    assert not shared_words(update["Twiml"], BODY)


@pytest.mark.parametrize("answered_by", ["fax", "unknown"])
async def test_a_fax_or_an_undecided_answer_is_hung_up_on(
    voice: VoiceChannel, twilio: TwilioPeer, answered_by: str
) -> None:
    message = call_message()
    sid = (await voice.send(message)).provider_id or ""
    assert await voice.answered(message.attempt_id, sid, answered_by) == "hung_up"
    assert await voice.answered(message.attempt_id, sid, "human") is None
    [(_, update)] = twilio.call_updates
    assert (
        update["Twiml"] == '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'
    )


async def test_an_ended_or_refused_call_keeps_nothing_to_say(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    ended = call_message()
    sid = (await voice.send(ended)).provider_id or ""
    await voice.forget(ended.attempt_id)
    assert await voice.answered(ended.attempt_id, sid, "human") is None

    refused = call_message()
    twilio.refuse(refused.contact, INVALID_TO)
    with pytest.raises(PermanentError):
        await voice.send(refused)
    assert await voice.answered(refused.attempt_id, "CA1", "human") is None
    assert twilio.call_updates == []


async def test_a_call_without_a_voicemail_is_never_placed(
    voice: VoiceChannel, twilio: TwilioPeer
) -> None:
    with pytest.raises(PermanentError) as raised:
        await voice.send(call_message(voicemail=None))
    assert raised.value.code == "no_detection"
    assert twilio.requests == 0
