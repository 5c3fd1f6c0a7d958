"""The checks of the hand-off: ``ready`` takes the capacity a send needs and sends nothing,
``release`` gives it back, and ``send`` never waits for capacity (a message waiting inside
``send`` is already confirmed ``sending``: a crash would leave it ``unknown`` though nobody got
it). No check is timed: a channel that waits where it must not is caught by what it does
while all its capacity is taken, not by how long it takes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dispatcher.channel import Channel, Message
from dispatcher.model import ContactKind
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import error_text, fail_check
from dispatcher.testing.watch import Peer, watched_send


class CapacityChecks(ContractBase):
    """``ready`` / ``send`` / ``release``: capacity taken before the send, given back after
    it or instead of it, never waited for inside ``send``."""

    def test_ready_then_release_without_a_send_sends_nothing_and_gives_back(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        problems: list[str] = []

        async def unsent() -> None:
            channel = make_channel()
            await channel.open()
            try:
                before = peer.requests
                # More than the channel holds: each release must give back what ready took.
                for _ in range((self.capacity or 1) + 2):
                    message = make_message(channel.contact_kind)
                    if not await self._ready(channel, message, problems):
                        return
                    channel.release(message)
                if peer.requests != before:
                    problems.append(
                        f"{peer.requests - before} deliveries reached the peer from ready and "
                        "release alone: ready takes capacity, it never sends"
                    )
                sent = await watched_send(
                    channel, make_message(channel.contact_kind), peer, self.send_timeout
                )
                if sent.error is not None or sent.hung or sent.reached != 1:
                    problems.append(
                        "after messages readied and released unsent, a send must deliver once: "
                        + (error_text(sent.error) if sent.error else f"{sent.reached} deliveries")
                    )
            finally:
                await channel.close()

        asyncio.run(unsent())
        if problems:
            fail_check(problems, "release() must give back what ready() took, unsent:")

    def test_send_never_waits_for_capacity(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        if self.capacity is None:
            pytest.skip("the channel declares no capacity (set `capacity` if it limits sends)")
        problems: list[str] = []
        asyncio.run(self._all_taken(make_channel, make_message, peer, self.capacity, problems))
        if problems:
            fail_check(
                problems,
                "ready() must wait while the channel's capacity is all taken, and send() "
                "must never wait for it:",
            )

    async def _all_taken(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        capacity: int,
        problems: list[str],
    ) -> None:
        """Ready ``capacity`` messages, one more waiting; send the first while it waits."""
        channel = make_channel()
        await channel.open()
        held = [make_message(channel.contact_kind) for _ in range(capacity)]
        extra = make_message(channel.contact_kind)
        waiting: asyncio.Task[None] | None = None
        try:
            for message in held:
                if not await self._ready(channel, message, problems):
                    return
            waiting = asyncio.create_task(channel.ready(extra))
            first = held.pop(0)
            sent = await watched_send(channel, first, peer, self.send_timeout, readied=True)
            if sent.hung or sent.error is not None or sent.reached != 1:
                outcome = (
                    f"did not return within {self.send_timeout:g}s (it waits inside send)"
                    if sent.hung
                    else f"raised {error_text(sent.error)}"
                    if sent.error is not None
                    else f"made {sent.reached} deliveries instead of one"
                )
                problems.append(
                    f"with all {capacity} taken, a send after ready {outcome}: take what a "
                    "send needs in ready, and hold it until release"
                )
            if waiting.done():
                problems.append(
                    f"ready returned with all {capacity} taken (capacity = {capacity}): "
                    "wait in ready until release gives some back"
                )
            channel.release(first)
            done, _ = await asyncio.wait({waiting}, timeout=self.send_timeout)
            if not done:
                problems.append("ready still waited after release gave capacity back")
            elif waiting.exception() is None:
                held.append(extra)
        finally:
            if waiting is not None and not waiting.done():
                waiting.cancel()
            for message in held:
                channel.release(message)
            await channel.close()

    async def _ready(self, channel: Channel, message: Message, problems: list[str]) -> bool:
        """``channel.ready(message)`` within ``send_timeout``; False (and why) when not."""
        try:
            await asyncio.wait_for(channel.ready(message), timeout=self.send_timeout)
        except TimeoutError:
            problems.append(
                f"ready did not return within {self.send_timeout:g}s with capacity free: "
                "release must give back what ready took"
            )
            return False
        except Exception as exc:
            problems.append(f"ready raised {error_text(exc)} against a working peer")
            return False
        return True
