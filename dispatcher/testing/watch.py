"""One send under watch: how many requests reached the peer, whether the channel slept, what
it returned or raised — without the peer's own waiting counting against it. A send is made as
the core makes it (``deliver``): ``ready``, then ``send``, then ``release``."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dispatcher.channel import Channel, Message, SendResult

# Set only in the task that runs ``send`` (and tasks it starts): a sleep in a peer's thread or
# in the peer's own tasks is the peer provoking a timeout, not the channel waiting to retry.
_IN_SEND: contextvars.ContextVar[bool] = contextvars.ContextVar("in_channel_send", default=False)


class Peer(Protocol):
    """What a channel talks to in the contract suite: a loopback server, a directory, a fake
    provider. ``requests`` counts the deliveries that reached it so far."""

    @property
    def requests(self) -> int: ...


@dataclass
class Watched:
    """The outcome of one watched send."""

    result: Any = None
    error: BaseException | None = None
    reached: int = 0
    slept: list[float] = field(default_factory=list)
    hung: bool = False


@contextmanager
def _sleeps_recorded(slept: list[float]) -> Iterator[None]:
    """Record (and skip) every sleep of more than zero seconds made inside a send."""
    real_async_sleep, real_sleep = asyncio.sleep, time.sleep

    async def async_sleep(delay: float, result: Any = None) -> Any:
        if _IN_SEND.get() and delay > 0:
            slept.append(delay)
            delay = 0
        return await real_async_sleep(delay, result)

    def sleep(seconds: float) -> None:
        if _IN_SEND.get() and seconds > 0:
            slept.append(seconds)
            return
        real_sleep(seconds)

    asyncio.sleep, time.sleep = async_sleep, sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        asyncio.sleep, time.sleep = real_async_sleep, real_sleep


async def deliver(channel: Channel, message: Message) -> SendResult:
    """Send ``message`` as the core does: the channel takes its capacity (``ready``), sends,
    and gives the capacity back (``release``) whatever happened."""
    await channel.ready(message)
    try:
        return await channel.send(message)
    finally:
        channel.release(message)


async def watched_send(
    channel: Channel, message: Message, peer: Peer, timeout: float, *, readied: bool = False
) -> Watched:
    """``message`` delivered once as the core does (``ready`` may wait; ``send`` is watched),
    in a task of its own, given ``timeout`` seconds in all. ``readied``: the caller called
    ``ready`` and calls ``release``; only ``send`` is made here."""
    watched = Watched()
    before = peer.requests
    context = contextvars.copy_context()
    context.run(_IN_SEND.set, True)

    async def handed_over() -> Any:
        sending = asyncio.get_running_loop().create_task
        if readied:
            return await sending(channel.send(message), context=context)
        await channel.ready(message)
        try:
            return await sending(channel.send(message), context=context)
        finally:
            channel.release(message)

    with _sleeps_recorded(watched.slept):
        task = asyncio.get_running_loop().create_task(handed_over())
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})
            watched.hung = True
        elif task.exception() is not None:
            watched.error = task.exception()
        else:
            watched.result = task.result()
    watched.reached = peer.requests - before
    return watched
