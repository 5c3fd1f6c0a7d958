"""``twilio-voice``: calls through Twilio's Calls API that speak the rendered template.

The call's TwiML says the text in the locale's language and voice. Answering-machine
detection runs asynchronously (``MachineDetection=DetectMessageEnd``, ``AsyncAmd``): the
call speaks at once, and when Twilio reports a machine at the end of its greeting
(``machine_end_*``) the call is redirected to the limited-content voicemail (Reg F
§1006.2(j)), a template of its own named by the call template's ``voicemail`` meta key, which
``check`` holds to the limited-content rules. Every placed call is a call attempt
(§1006.14(b)(3)), answered or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from dispatcher.channel import Channel, Message, SendResult
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind, Outcome

from ..twilio_common.channel import TwilioChannel
from ..twilio_common.errors import classify, classify_network
from ..twilio_common.settings import TwilioSettings
from ..twilio_common.webhooks import add_routes

# How long a voicemail waits for its machine: Twilio's detection ends within a minute or so.
VOICEMAIL_KEEP = 600.0


class Speech(BaseModel):
    """How ``<Say>`` speaks one locale."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    language: str = Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")
    voice: str = Field(min_length=1)


DEFAULT_SPEECH = {
    "en": Speech(language="en-US", voice="Polly.Joanna"),
    "en-US": Speech(language="en-US", voice="Polly.Joanna"),
    "zh-CN": Speech(language="cmn-CN", voice="Polly.Zhiyu"),
}


class VoiceSettings(TwilioSettings):
    speech: dict[str, Speech] = Field(
        default_factory=lambda: dict(DEFAULT_SPEECH),
        description="per locale, the <Say> language and voice",
    )
    machine_detection_timeout: int = Field(30, ge=3, le=59, description="seconds")

    @field_validator("from_number")
    @classmethod
    def _caller(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("is required: a call needs a caller id")
        return value

    def speech_for(self, locale: str) -> Speech:
        language = locale.split("-")[0]
        return (
            self.speech.get(locale)
            or self.speech.get(language)
            or next(iter(self.speech.values()), DEFAULT_SPEECH["en-US"])
        )


def say(text: str, speech: Speech) -> str:
    response = VoiceResponse()
    response.say(text, language=speech.language, voice=speech.voice)
    return str(response)


class VoiceChannel(TwilioChannel):
    """One call per ``send``; its SID is the provider id status callbacks name."""

    type_name = "twilio-voice"
    contact_kind = ContactKind.PHONE
    Settings = VoiceSettings
    settings: VoiceSettings

    def __init__(self, name: str, settings: VoiceSettings) -> None:
        super().__init__(name, settings)
        # attempt id -> (voicemail TwiML, monotonic deadline). In memory: after a restart a
        # machine gets no voicemail, which is the safe side.
        self._voicemails: dict[str, tuple[str, float]] = {}

    async def send(self, message: Message) -> SendResult:
        to = self.recipient(message.contact)
        speech = self.settings.speech_for(message.locale)
        request: dict[str, Any] = {
            "to": to,
            "from_": self.settings.from_number,
            "twiml": say(message.body, speech),
        }
        callback = self.callback_url(message.attempt_id)
        voicemail = message.meta.get("voicemail_body")
        if callback:
            request["status_callback"] = callback
            if voicemail:
                request.update(
                    machine_detection="DetectMessageEnd",
                    machine_detection_timeout=self.settings.machine_detection_timeout,
                    async_amd="true",
                    async_amd_status_callback=self.callback_url(message.attempt_id, event="amd"),
                )
        client = self.client
        try:
            call = await client.calls.create_async(**request)
        except TwilioRestException as exc:
            raise classify(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise classify_network(exc) from None
        if callback and voicemail:
            self._keep_voicemail(message.attempt_id, say(str(voicemail), speech))
        # Reg F §1006.14(b)(3): a placed call is an attempt, answered or not.
        return SendResult(provider_id=call.sid, outcome=Outcome.PLACED)

    def _keep_voicemail(self, attempt_id: str, twiml: str) -> None:
        now = time.monotonic()
        for key in [k for k, (_, until) in self._voicemails.items() if until < now]:
            del self._voicemails[key]
        self._voicemails[attempt_id] = (twiml, now + VOICEMAIL_KEEP)

    async def leave_voicemail(self, attempt_id: str, call_sid: str) -> bool:
        """Redirect the call to its voicemail (a machine finished its greeting). Once per
        attempt: a duplicate callback finds nothing left to say."""
        kept = self._voicemails.pop(attempt_id, None)
        if kept is None:
            return False
        try:
            await self.client.calls(call_sid).update_async(twiml=kept[0])
        except (TwilioRestException, TimeoutError, aiohttp.ClientError):
            return False
        return True


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The twilio-voice channel type."""
    register(VoiceChannel)


@hookimpl
def register_routes(app: aiohttp.web.Application, services: Any) -> None:
    """Twilio's call status callbacks (shared with the SMS plugin, added once)."""
    add_routes(app, services)
