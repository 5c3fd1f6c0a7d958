"""Two toy SMS channels for testing the contract suite itself: ``ToyChannel`` keeps the
contract, ``BrokenToyChannel`` breaks every rule of it. Both send to an in-memory provider, at
most ``SLOTS`` messages at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from dispatcher.channel import (
    Channel,
    ChannelSettings,
    Message,
    PermanentError,
    Reconciled,
    SendResult,
    Slots,
    TransientError,
    UnknownAttempt,
)
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind
from dispatcher.privacy import mask

log = logging.getLogger("toy")
PROVIDERS: dict[str, ToyProvider] = {}
SLOTS = 2


class ProviderBusy(Exception):
    retry_after = 2.0


class UnknownNumber(Exception):
    pass


class ToyProvider:
    """Accepts messages; while ``failing(mode)`` holds, refuses them as ``busy`` or
    ``unknown_number``. ``requests`` counts every message handed to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        self.mode = "ok"
        self.sent: set[str] = set()  # attempt ids delivered
        PROVIDERS[name] = self

    def deliver(self, to: str, text: str) -> str:
        self.requests += 1
        if self.mode == "busy":
            raise ProviderBusy()
        if self.mode == "unknown_number":
            raise UnknownNumber()
        return f"toy-{self.requests}"

    @contextlib.contextmanager
    def failing(self, mode: str) -> Iterator[None]:
        self.mode = mode
        try:
            yield
        finally:
            self.mode = "ok"


class ToySettings(ChannelSettings):
    provider: str = Field(min_length=1)
    sender: str = Field("ACME", pattern=r"^[A-Za-z0-9]{3,11}$")


class ToyChannel(Channel):
    type_name = "toy"
    contact_kind = ContactKind.PHONE
    Settings = ToySettings

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        super().__init__(name, settings)
        self.slots = Slots(SLOTS)

    async def ready(self, message: Message) -> None:
        await self.slots.take(message)

    def release(self, message: Message) -> None:
        self.slots.give_back(message)

    async def send(self, message: Message) -> SendResult:
        provider = PROVIDERS[self.settings.provider]  # type: ignore[attr-defined]
        try:
            provider_id = provider.deliver(message.contact, message.body)
        except ProviderBusy as exc:
            raise TransientError("provider busy", retry_after=exc.retry_after) from None
        except UnknownNumber:
            raise PermanentError("number unknown", mark_contact="invalid") from None
        provider.sent.add(message.attempt_id)
        log.debug("sent", extra={"fields": {"to": mask(message.contact_kind, message.contact)}})
        return SendResult(provider_id=provider_id)

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        sent = PROVIDERS[self.settings.provider].sent  # type: ignore[attr-defined]
        return {
            a.attempt_id: Reconciled.SENT if a.attempt_id in sent else Reconciled.NOT_SENT
            for a in attempts
        }


class BrokenSettings(BaseModel):  # not ChannelSettings: any key goes
    provider: str
    api_token: str = ""
    sender: str = "ACME"


class BrokenToyChannel(Channel):
    type_name = "Broken Toy"
    contact_kind = "phone"  # type: ignore[assignment]
    Settings = BrokenSettings  # type: ignore[assignment]

    async def open(self) -> None:
        self.session = object()
        self.slots = asyncio.Semaphore(SLOTS)

    async def ready(self, message: Message) -> None:
        await self.slots.acquire()  # and never given back: no release

    async def close(self) -> None:
        del self.session

    async def send(self, message: Message) -> Any:
        log.info("sending to %s", message.contact)
        await self.slots.acquire()  # waits for capacity inside send
        provider = PROVIDERS[self.settings.provider]  # type: ignore[attr-defined]
        for _ in range(3):
            try:
                return {"id": provider.deliver(message.contact, message.body)}
            except ProviderBusy:
                await asyncio.sleep(1)
            except UnknownNumber:
                raise TransientError(f"{message.contact} is unknown") from None
        raise RuntimeError("provider still busy")

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        provider = PROVIDERS[self.settings.provider]  # type: ignore[attr-defined]
        for attempt in attempts:  # "checks" by sending again
            provider.deliver(attempt.contact, "again")
        return {a.attempt_id: Reconciled.NOT_SENT for a in attempts}


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    register(ToyChannel)
