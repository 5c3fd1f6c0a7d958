"""What every part of the contract suite stands on: the class attributes and fixtures a plugin
author sets, and one send by a fresh channel, watched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from dispatcher.channel import Channel, Message
from dispatcher.model import ContactKind
from dispatcher.testing.contract.failure import Failure, provoked
from dispatcher.testing.contract.report import fail_check, missing_fixture
from dispatcher.testing.samples import sample_message
from dispatcher.testing.watch import Peer, Watched, watched_send


class ContractBase:
    """The attributes and fixtures of ``ChannelContract``, and the sends its checks watch."""

    channel_class: ClassVar[type[Channel]]
    entry_point: ClassVar[str | None] = None
    send_timeout: ClassVar[float] = 30.0  # longest a send may take before it counts as hung
    # How many messages a channel built from ``valid_settings`` holds at once between ready
    # and release (its pool, its HTTP slots); None when it limits nothing.
    capacity: ClassVar[int | None] = None

    # -- what the author provides -------------------------------------------------------------

    @pytest.fixture
    def peer(self) -> Peer:
        missing_fixture(
            "peer",
            "what the channel sends to, counting deliveries in `requests` "
            "(dispatcher.testing.HttpPeer for an HTTP API)",
        )

    @pytest.fixture
    def valid_settings(self) -> dict[str, Any]:
        missing_fixture("valid_settings", "a dict of settings that work against the peer")

    @pytest.fixture
    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        missing_fixture("bad_settings", "a list of (settings, name of the field that is wrong)")

    @pytest.fixture
    def transient_failures(self) -> list[Failure]:
        missing_fixture(
            "transient_failures",
            "a list of Failure(name, provoke) that must raise "
            "TransientError: rate limit, provider 5xx, timeout, connection refused",
        )

    @pytest.fixture
    def permanent_failures(self) -> list[Failure]:
        missing_fixture(
            "permanent_failures",
            "a list of Failure(name, provoke) that must raise "
            "PermanentError: a rejected address, a refused request",
        )

    @pytest.fixture
    def make_message(self) -> Callable[[ContactKind], Message]:
        """A message to the sample person at her address of the given kind."""
        return sample_message

    @pytest.fixture
    def make_channel(self, valid_settings: dict[str, Any]) -> Callable[..., Channel]:
        """``make_channel(settings=None)``: a channel named ``contract`` built the way the core
        builds one (settings validated by the channel's own model)."""

        def make(settings: dict[str, Any] | None = None) -> Channel:
            cls = self._channel_class()
            try:
                model = cls.Settings.model_validate(
                    valid_settings if settings is None else settings
                )
            except ValidationError as exc:
                fail_check(
                    [str(exc)], "valid_settings are rejected by the channel's Settings model:"
                )
            return cls("contract", model)

        return make

    # -- the channel, and one send of it under watch -------------------------------------------

    def _channel_class(self) -> type[Channel]:
        cls = getattr(self, "channel_class", None)
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            pytest.fail(
                f"channel_class is {cls!r}: set `channel_class = YourChannel` on the test "
                "class, a subclass of dispatcher.channel.Channel",
                pytrace=False,
            )
        return cls

    def _run(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failure: Failure | None,
    ) -> Watched:
        """Open a new channel, provoke ``failure`` (if any), send once, close."""

        async def scenario() -> Watched:
            channel = make_channel()
            await channel.open()
            try:
                message = make_message(channel.contact_kind)
                async with provoked(failure, channel):
                    return await watched_send(channel, message, peer, self.send_timeout)
            finally:
                await channel.close()

        return asyncio.run(scenario())

    def _every_scenario(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failures: list[Failure],
    ) -> Iterator[tuple[str, Watched]]:
        """A send to a working peer, then one per failure: each run when asked for."""
        scenarios: list[tuple[str, Failure | None]] = [("a working peer", None)]
        scenarios += [(failure.name, failure) for failure in failures]
        for name, failure in scenarios:
            yield name, self._run(make_channel, make_message, peer, failure)
