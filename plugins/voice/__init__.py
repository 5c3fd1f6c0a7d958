"""``twilio-voice``: calls through Twilio's Calls API that speak the rendered template only to
a person.

A call starts silent: its first TwiML only pauses (then hangs up) while asynchronous
answering-machine detection (``MachineDetection=DetectMessageEnd``, ``AsyncAmd``) listens.
Detection's callback decides what the call says: a person (``human``) hears the rendered
template; a machine at the end of its greeting (``machine_end_*``) gets the limited-content
voicemail (Reg F §1006.2(j)), a template of its own named by the call template's ``voicemail``
meta key, which ``check`` holds to the limited-content rules; a fax or an undecided answer
(``unknown``) is hung up on. So nothing about the debt is said to a machine or recorded after
its beep. A channel that could not detect (no ``status_callback_base``, a call template
without a voicemail) is refused by ``check``. Every placed call is a call attempt
(§1006.14(b)(3)), answered or not.

What a call will say (both TwiML scripts, in the locale's voice) is kept in the store with its
attempt before the call is placed (``Services.keep_call_script``), so detection's verdict is
answered by whichever node of a cluster Twilio's callback reaches; the verdict takes it (once:
the first verdict on any node), the call's end removes it, and it never outlives
``SCRIPTS_KEEP`` (personal data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from dispatcher.channel import Channel, Message, PermanentError, SendResult, TransientError
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind, Outcome

from ..twilio_common.channel import TwilioChannel
from ..twilio_common.errors import classify, classify_network
from ..twilio_common.lookups import LISTED
from ..twilio_common.settings import TwilioSettings
from ..twilio_common.webhooks import add_routes

if TYPE_CHECKING:
    from dispatcher.services import Services

log = logging.getLogger("dispatcher_plugins.twilio")

# How long a call's scripts wait for detection's verdict: it comes within a minute or so
# (detection's timeout is at most 59 s, after the ringing).
SCRIPTS_KEEP = timedelta(minutes=10)
# After detection's timeout, how long the silent call waits for our answer to its verdict.
VERDICT_MARGIN = 15
MACHINE_END = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})


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
    status_callback_base: str | None = Field(
        None,
        validate_default=True,
        description="this daemon's public URL as Twilio reaches it (https://dispatch.example.com);"
        " required: answering-machine detection reports there",
    )
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

    @field_validator("status_callback_base")
    @classmethod
    def _detection(cls, value: str | None) -> str | None:
        if value is None:
            # Reg F §1006.2(j): without detection's callback a call cannot tell a person from
            # a machine, so it could only say the whole message to either.
            raise ValueError(
                "is required: a call speaks only after answering-machine detection, "
                "which reports to this daemon's public URL"
            )
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


def wait_silently(seconds: int) -> str:
    """A call's first TwiML: silence while detection listens, then the end of the call if no
    verdict changed it. Nothing is said: the callee may be a machine that records."""
    response = VoiceResponse()
    response.pause(length=seconds)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


class VoiceChannel(TwilioChannel):
    """One call per ``send``; its SID is the provider id status callbacks name."""

    type_name = "twilio-voice"
    contact_kind = ContactKind.PHONE
    requires_voicemail: ClassVar[bool] = True
    Settings = VoiceSettings
    settings: VoiceSettings

    def __init__(self, name: str, settings: VoiceSettings) -> None:
        super().__init__(name, settings)
        self.services: Services | None = None  # the daemon's, where scripts are kept

    def attach(self, services: Any) -> None:
        """The daemon's ``Services``: each call's scripts are kept in its store."""
        self.services = services

    async def send(self, message: Message) -> SendResult:
        to = self.recipient(message.contact)
        voicemail = message.meta.get("voicemail_body")
        callback = self.callback_url(message.attempt_id)
        if not voicemail or callback is None:
            # `check` refuses such a channel or template; never place a call that could not
            # tell a person from a machine.
            raise PermanentError(
                "a call needs answering-machine detection: a voicemail and status_callback_base",
                code="no_detection",
            )
        if self.services is None:
            raise PermanentError(
                "a call's script is kept in the daemon's store, and this channel has none",
                code="no_script_store",
            )
        speech = self.settings.speech_for(message.locale)
        timeout = self.settings.machine_detection_timeout
        request: dict[str, Any] = {
            "to": to,
            "from_": self.settings.from_number,
            "twiml": wait_silently(timeout + VERDICT_MARGIN),
            "status_callback": callback,
            "machine_detection": "DetectMessageEnd",
            "machine_detection_timeout": timeout,
            "async_amd": "true",
            "async_amd_status_callback": self.callback_url(message.attempt_id, event="amd"),
        }
        client = self.client
        # Kept before the request: detection may report, to any node, before Twilio's
        # answer reaches us. A call whose script could not be kept is not placed.
        try:
            await self.services.keep_call_script(
                message.attempt_id,
                person=say(message.body, speech),
                machine=say(str(voicemail), speech),
                keep=SCRIPTS_KEEP,
            )
        except Exception as exc:
            raise TransientError(
                f"the call's script could not be kept: {type(exc).__name__}", code="script_store"
            ) from None
        try:
            call = await client.calls.create_async(**request)
        except TwilioRestException as exc:
            await self.forget(message.attempt_id)
            raise classify(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            await self.forget(message.attempt_id)
            raise classify_network(exc) from None
        # Reg F §1006.14(b)(3): a placed call is an attempt, answered or not.
        return SendResult(provider_id=call.sid, outcome=Outcome.PLACED)

    async def created_to(self, to: str) -> list[datetime | None]:
        """When this sender's latest calls to ``to`` were created (for ``reconcile``)."""
        found = await self.client.calls.list_async(
            to=to, from_=self.settings.from_number, limit=LISTED
        )
        return [c.date_created for c in found]

    async def fetch(self, sid: str) -> object:
        """The call ``sid`` (for ``reconcile``)."""
        return await self.client.calls(sid).fetch_async()

    async def forget(self, attempt_id: str) -> None:
        """Drop a call's scripts (it ended, or was never placed). A store that fails here
        leaves them to expire (``SCRIPTS_KEEP``)."""
        if self.services is None:
            return
        try:
            await self.services.forget_call_script(attempt_id)
        except Exception as exc:
            log.warning(
                "a call's script could not be removed; it expires on its own",
                extra={"fields": {"attempt": attempt_id, "error": type(exc).__name__}},
            )

    async def answered(self, attempt_id: str, call_sid: str, answered_by: str) -> str | None:
        """Act on detection's verdict, once per call whichever node it reaches: a person
        hears the template (``spoken``), a machine at the end of its greeting the voicemail
        (``voicemail``), anything else but a machine still greeting (``machine_start``: wait
        for its end) is hung up on (``hung_up``). None when nothing was done: a duplicate or
        late verdict, one whose script no node keeps (never kept, expired, the store
        unreachable), or Twilio refused the update."""
        if answered_by == "machine_start" or self.services is None:
            return None
        try:
            scripts = await self.services.take_call_script(attempt_id)
        except Exception as exc:
            log.warning(
                "a call's script could not be read: the call ends silent",
                extra={"fields": {"attempt": attempt_id, "error": type(exc).__name__}},
            )
            return None
        if scripts is None:
            return None
        if answered_by == "human":
            twiml, done = scripts.person, "spoken"
        elif answered_by in MACHINE_END:
            twiml, done = scripts.machine, "voicemail"
        else:  # fax, unknown: say nothing
            twiml, done = hang_up(), "hung_up"
        try:
            await self.client.calls(call_sid).update_async(twiml=twiml)
        except (TwilioRestException, TimeoutError, aiohttp.ClientError):
            return None
        return done


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The twilio-voice channel type."""
    register(VoiceChannel)


@hookimpl
def register_routes(app: aiohttp.web.Application, services: Any) -> None:
    """Twilio's call status callbacks (shared with the SMS plugin, added once)."""
    add_routes(app, services)
