"""Twilio's callbacks into the daemon: ``POST /twilio/status`` (message and call status,
answering-machine detection) and ``POST /twilio/inbound`` (replies: STOP and START keywords).

Every request must carry a valid ``X-Twilio-Signature`` made with the auth token of the
channel it is for; anything else gets 403 and changes nothing. A body that is not the form
Twilio sends (URL-encoded UTF-8) gets 400 or 415 before anything else reads it, and with no
Twilio channel configured both paths answer 404. Callbacks may come twice or out of order: a
report or message whose id (``MessageSid``, with the status for a report) was seen before
changes nothing, and the store only moves an attempt's outcome forward.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from dispatcher.model import ContactKind, Outcome
from dispatcher.privacy import mask

from .channel import INBOUND_PATH, STATUS_PATH, TwilioChannel
from .errors import TRANSIENT_DELIVERY, mark_for
from .settings import e164

if TYPE_CHECKING:
    from dispatcher.services import Services

log = logging.getLogger("dispatcher_plugins.twilio")

ROUTES_ADDED = web.AppKey("twilio_routes_added", bool)

FORM = "application/x-www-form-urlencoded"
BODY_TIMEOUT = 30.0  # seconds for the whole body: a slow client must not hold a connection
MAX_FIELDS = 200  # Twilio sends a few dozen

# Twilio's opt-out and opt-in keywords (Advanced Opt-Out defaults; POLICY.md).
STOP_WORDS = {"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}

PLACED = {"queued", "accepted", "scheduled", "sending", "sent", "initiated", "ringing"}
PLACED |= {"in-progress"}
REACHED = {"delivered", "read"}
NOT_ANSWERED = {"busy", "no-answer", "canceled"}
CALL_ENDED = NOT_ANSWERED | {"completed", "failed"}


@dataclass(frozen=True)
class Settlement:
    """What a status callback says of its attempt."""

    outcome: Outcome
    error_code: str | None = None
    mark_contact: str | None = None
    retry: bool = False  # a temporary delivery failure: the reminder is tried again, capped


def settlement(form: dict[str, str]) -> Settlement | None:
    """Read a message or call status callback; None for a status we do not know."""
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    code_text = form.get("ErrorCode") or ""
    code = int(code_text) if code_text.isdigit() else None
    if status in PLACED:
        return Settlement(Outcome.PLACED)
    if status in REACHED:
        return Settlement(Outcome.DELIVERED)
    if status == "completed":
        # POLICY.md: completed + answered by a human = a conversation (cooldown starts).
        human = form.get("AnsweredBy") == "human"
        return Settlement(Outcome.CONVERSATION if human else Outcome.DELIVERED)
    if status in NOT_ANSWERED:
        return Settlement(Outcome.FAILED_TRANSIENT, error_code=status)
    if status in ("undelivered", "failed"):
        if code in TRANSIENT_DELIVERY:
            return Settlement(Outcome.FAILED_TRANSIENT, error_code=code_text, retry=True)
        return Settlement(
            Outcome.FAILED_PERMANENT, error_code=code_text or status, mark_contact=mark_for(code)
        )
    return None


def twilio_channels(services: Services) -> list[TwilioChannel]:
    return [c for c in services.channels() if isinstance(c, TwilioChannel)]


def channels_for(
    request: web.Request, form: dict[str, str], services: Services
) -> list[TwilioChannel]:
    """The channels a callback is for: the one named in its URL, else those of its account."""
    named = request.query.get("channel")
    candidates = twilio_channels(services)
    if named:
        return [c for c in candidates if c.name == named]
    account = form.get("AccountSid")
    return [c for c in candidates if c.settings.account_sid == account]


class Refused(Exception):
    """A callback answered without being acted on: its status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.reason)


async def read_form(request: web.Request) -> dict[str, str]:
    """The callback's form, read and parsed here (not by aiohttp's multipart reader): Twilio
    sends URL-encoded UTF-8; anything else is refused before any field is looked at."""
    if request.content_type != FORM:
        raise Refused(415, f"send {FORM}")
    try:
        raw = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
    except TimeoutError:
        raise Refused(408, "the body was not sent in time") from None
    try:
        pairs = (
            parse_qsl(
                raw.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=True,
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
            if raw
            else []
        )
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the body is not a URL-encoded UTF-8 form") from None
    return dict(pairs)


async def authenticated(
    request: web.Request, services: Services
) -> tuple[dict[str, str], list[TwilioChannel]]:
    """The form and its channels when Twilio signed it with their auth token (any channel of
    the account may be the one whose URL was signed); else ``Refused``."""
    if not twilio_channels(services):
        raise Refused(404, "no Twilio channel is configured")
    form = await read_form(request)
    channels = channels_for(request, form, services)
    signature = request.headers.get("X-Twilio-Signature", "")
    if any(c.signed(request.path_qs, form, signature) for c in channels):
        return form, channels
    log.warning(
        "twilio callback refused: signature missing or wrong",
        extra={"fields": {"path": request.path, "channel": request.query.get("channel", "")}},
    )
    raise Refused(403, "signature missing or wrong")


def add_routes(app: web.Application, services: Services) -> None:
    """Add the two webhooks, once, whichever Twilio plugins are loaded."""
    if app.get(ROUTES_ADDED):
        return
    app[ROUTES_ADDED] = True
    callbacks = TwilioCallbacks(services)
    app.router.add_post(STATUS_PATH, callbacks.status)
    app.router.add_post(INBOUND_PATH, callbacks.inbound)


@dataclass(frozen=True)
class TwilioCallbacks:
    """The answers to Twilio's callbacks, reaching the core through the plugins' ``Services``."""

    services: Services

    async def status(self, request: web.Request) -> web.Response:
        try:
            form, channels = await authenticated(request, self.services)
        except Refused as refused:
            return refused.response()
        attempt_id = request.query.get("attempt") or None
        sid = form.get("MessageSid") or form.get("CallSid") or None
        if request.query.get("event") == "amd":
            return await self.machine_detected(form, channels[0], attempt_id, sid)
        if form.get("CallStatus") in CALL_ENDED and attempt_id:
            forget = getattr(channels[0], "forget", None)
            if forget is not None:
                await forget(attempt_id)  # its scripts (personal data) are of no more use
        settled = settlement(form)
        if settled is None:
            return web.Response(status=204)
        result = await self.services.settle_attempt(
            attempt_id=attempt_id,
            provider_id=sid,
            outcome=settled.outcome,
            error_code=settled.error_code,
            mark_contact=settled.mark_contact,
            retry=settled.retry,
            event_id=report_id(form, sid),
        )
        log.info(
            "twilio status",
            extra={
                "fields": {
                    "attempt": attempt_id,
                    "sid": sid,
                    "outcome": settled.outcome.value,
                    "code": settled.error_code,
                    "changed": result.changed,
                    "retried": result.retried,
                }
            },
        )
        return web.Response(status=204)

    async def machine_detected(
        self, form: dict[str, str], channel: TwilioChannel, attempt_id: str | None, sid: str | None
    ) -> web.Response:
        """Detection's verdict decides what the silent call says (the voice channel's
        ``answered``); a person who heard the message is a conversation (its cooldown starts
        now). The call's script is kept in the store, so the verdict is answered whichever
        node it reaches. One who heard nothing (no node keeps the script: taken by an earlier
        verdict, expired, the store unreachable; or Twilio refused the update) got a silent
        call: a counted attempt, not a conversation."""
        answered_by = form.get("AnsweredBy", "")
        answered = getattr(channel, "answered", None)
        done = None
        if answered is not None and attempt_id and sid:
            done = await answered(attempt_id, sid, answered_by)
        if answered_by == "human" and done == "spoken" and sid:
            await self.services.settle_attempt(
                attempt_id=attempt_id, provider_id=sid, outcome=Outcome.CONVERSATION
            )
        log.info(
            "twilio machine detection",
            extra={"fields": {"attempt": attempt_id, "answered_by": answered_by, "done": done}},
        )
        return web.Response(status=204)

    async def inbound(self, request: web.Request) -> web.Response:
        try:
            form, channels = await authenticated(request, self.services)
        except Refused as refused:
            return refused.response()
        word = form.get("Body", "").strip().strip(".!").upper()
        sender = form.get("From", "")
        try:
            number = e164(sender)
        except ValueError:
            return twiml_ok()
        sms = [c.name for c in channels if c.type_name == "twilio-sms"] or [channels[0].name]
        if word in STOP_WORDS or word in START_WORDS:
            message = form.get("MessageSid") or form.get("SmsSid") or None
            await self.opt_out(number, sms, clear=word in START_WORDS, message=message)
        elif word in HELP_WORDS:
            log.info("sms help asked", extra={"fields": {"from": mask(ContactKind.PHONE, number)}})
        return twiml_ok()

    async def opt_out(
        self, number: str, channel_names: list[str], *, clear: bool, message: str | None
    ) -> None:
        """A STOP reply opts ``number`` out of each channel named (START, ``clear``, back in).
        ``message`` is its ``MessageSid``: a message seen before changes nothing, so a signed
        START replayed after a later STOP cannot lift it. Twilio's inbound webhook carries no
        timestamp or sequence number, so the order of arrival is the order applied."""
        for name in channel_names:
            people = await self.services.opt_out_contact(
                ContactKind.PHONE,
                number,
                name,
                source="sms_start" if clear else "sms_stop",
                clear=clear,
                event_id=message,
            )
            log.info(
                "sms opt-in" if clear else "sms opt-out",
                extra={
                    "fields": {
                        "channel": name,
                        "from": mask(ContactKind.PHONE, number),
                        "people": len(people),
                    }
                },
            )


def report_id(form: dict[str, str], sid: str | None) -> str | None:
    """The id of one status report: a message or call has one report per status (and per
    error), so the sid alone would drop all but its first."""
    if not sid:
        return None
    status = form.get("MessageStatus") or form.get("CallStatus") or ""
    return f"{sid}:{status}:{form.get('ErrorCode') or ''}"


def twiml_ok() -> web.Response:
    """An empty TwiML answer: nothing more to send (Twilio answers the keywords itself)."""
    return web.Response(text="<Response/>", content_type="text/xml")
