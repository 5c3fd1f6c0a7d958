"""A channel for tests whose behaviour per person is scripted: succeed, fail transiently or
permanently, crash, or take its time. Registered as an in-process plugin."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

from dispatcher.channel import Channel, ChannelSettings, Message, SendResult, Slots
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind


class ScriptedSettings(ChannelSettings):
    delay: float = 0.0


class ScriptedChannel(Channel):
    """``script[person_id]`` is a list consumed one entry per send: an exception instance to
    raise, None to succeed, a callable run first whose result is used (a test's way to act
    at the moment of a send), or an ``asyncio.Event`` the send waits for before it succeeds
    (a send held open until the test has done what must happen meanwhile). Sends are logged
    in ``sent``."""

    type_name = "scripted"
    contact_kind = ContactKind.PHONE
    Settings = ScriptedSettings
    script: ClassVar[dict[str, list[Any]]] = defaultdict(list)
    sent: ClassVar[list[Message]] = []
    calls: ClassVar[list[str]] = []
    in_flight: ClassVar[dict[str, int]] = defaultdict(int)
    max_in_flight_per_person: ClassVar[int] = 0
    opened: ClassVar[int] = 0
    on_ready: ClassVar[Callable[[Message], None] | None] = None  # run while "waiting for capacity"
    released: ClassVar[list[str]] = []  # the people whose capacity was given back, in order
    ready_gate: ClassVar[asyncio.Event | None] = (
        None  # when set: ready waits for it ("no capacity")
    )
    readying: ClassVar[int] = 0  # ready calls waiting at the gate so far
    slots: ClassVar[Slots | None] = None  # when set: the channel's capacity, taken in ready

    @classmethod
    def reset(cls) -> None:
        cls.script = defaultdict(list)
        cls.sent = []
        cls.calls = []
        cls.in_flight = defaultdict(int)
        cls.max_in_flight_per_person = 0
        cls.opened = 0
        cls.on_ready = None
        cls.released = []
        cls.ready_gate = None
        cls.readying = 0
        cls.slots = None

    async def open(self) -> None:
        type(self).opened += 1

    async def ready(self, message: Message) -> None:
        cls = type(self)
        if cls.on_ready is not None:
            cls.on_ready(message)  # type: ignore[misc]
        if cls.ready_gate is not None:
            cls.readying += 1
            await cls.ready_gate.wait()
        if cls.slots is not None:
            await cls.slots.take(message)

    def release(self, message: Message) -> None:
        cls = type(self)
        cls.released.append(message.person_id)
        if cls.slots is not None:
            cls.slots.give_back(message)

    async def send(self, message: Message) -> SendResult:
        cls = type(self)
        cls.calls.append(message.person_id)
        cls.in_flight[message.person_id] += 1
        cls.max_in_flight_per_person = max(
            cls.max_in_flight_per_person, cls.in_flight[message.person_id]
        )
        try:
            if self.settings.delay:  # type: ignore[attr-defined]
                await asyncio.sleep(self.settings.delay)  # type: ignore[attr-defined]
            steps = cls.script.get(message.person_id)
            if steps:
                outcome = steps.pop(0)
                if isinstance(outcome, asyncio.Event):
                    await outcome.wait()
                    outcome = None
                if callable(outcome):
                    outcome = outcome()
                if outcome is not None:
                    raise outcome
            cls.sent.append(message)
            return SendResult(provider_id=f"scripted-{len(cls.sent)}")
        finally:
            cls.in_flight[message.person_id] -= 1


class Plugin:
    @hookimpl
    def register_channels(self, register: Callable[[type[Any]], None]) -> None:
        register(ScriptedChannel)


plugin = Plugin()
