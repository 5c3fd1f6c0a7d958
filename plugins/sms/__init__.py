"""``twilio-sms``: text messages through Twilio's Messages API (or a compatible provider's).

Numbers are checked and put in E.164 before any request; the sender is paced process-wide;
Twilio's refusals are classified per ../shared/design/POLICY.md (21610 opts the number out,
21211/21612/21614/21635/30006 mark it unreachable, 20429 and 5xx are worth another try and a
20429 is no contact attempt). Delivery reports and STOP replies arrive at the webhooks of
``dispatcher_plugins.twilio_common.webhooks``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import Field, ValidationInfo, field_validator
from twilio.base.exceptions import TwilioRestException

from dispatcher.channel import Channel, Message, SendResult
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind

from ..twilio_common.channel import TwilioChannel
from ..twilio_common.errors import classify, classify_network
from ..twilio_common.lookups import LISTED
from ..twilio_common.settings import TwilioSettings
from ..twilio_common.webhooks import add_routes


class SmsSettings(TwilioSettings):
    messaging_service_sid: str | None = Field(
        None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        validate_default=True,
        description="send through a Messaging Service",
    )

    @field_validator("messaging_service_sid")
    @classmethod
    def _one_sender(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("from_number") is None) == (value is None):
            raise ValueError("set exactly one of from_number and messaging_service_sid")
        return value

    @property
    def sender(self) -> str:
        return self.messaging_service_sid or self.from_number or ""


class SmsChannel(TwilioChannel):
    """One message per ``send``; its SID is the provider id delivery reports name."""

    type_name = "twilio-sms"
    contact_kind = ContactKind.PHONE
    Settings = SmsSettings
    settings: SmsSettings

    async def send(self, message: Message) -> SendResult:
        to = self.recipient(message.contact)
        request: dict[str, Any] = {"to": to, "body": message.body}
        if self.settings.messaging_service_sid:
            request["messaging_service_sid"] = self.settings.messaging_service_sid
        else:
            request["from_"] = self.settings.from_number
        callback = self.callback_url(message.attempt_id)
        if callback:
            request["status_callback"] = callback
        client = self.client
        try:
            sent = await client.messages.create_async(**request)
        except TwilioRestException as exc:
            raise classify(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise classify_network(exc) from None
        return SendResult(provider_id=sent.sid)

    async def created_to(self, to: str) -> list[datetime | None]:
        """When this sender's latest messages to ``to`` were created (for ``reconcile``)."""
        service = self.settings.messaging_service_sid
        if service:
            found = await self.client.messages.list_async(to=to, limit=LISTED)
            return [m.date_created for m in found if m.messaging_service_sid == service]
        found = await self.client.messages.list_async(
            to=to, from_=self.settings.from_number, limit=LISTED
        )
        return [m.date_created for m in found]

    async def fetch(self, sid: str) -> object:
        """The message ``sid`` (for ``reconcile``)."""
        return await self.client.messages(sid).fetch_async()


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The twilio-sms channel type."""
    register(SmsChannel)


@hookimpl
def register_routes(app: aiohttp.web.Application, services: Any) -> None:
    """Twilio's delivery reports and replies (shared with the voice plugin, added once)."""
    add_routes(app, services)
