"""``Failure``: one way a plugin author makes the next send fail, and holding it for the
send."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from dispatcher.channel import Channel


@dataclass(frozen=True)
class Failure:
    """One way to make the next send fail.

    ``provoke(channel)`` is called after the channel is opened, just before the send. It may
    return nothing, an awaitable, or a context manager (sync or async) that holds the failure
    for the send and undoes it afterwards. ``retry_after`` and ``mark_contact``, when given,
    are what the raised error must carry.
    """

    name: str
    provoke: Callable[[Channel], Any]
    retry_after: float | None = None
    mark_contact: str | None = None


@contextlib.asynccontextmanager
async def provoked(failure: Failure | None, channel: Channel) -> AsyncIterator[None]:
    held: Any = failure.provoke(channel) if failure else None
    if inspect.isawaitable(held):
        held = await held
    if hasattr(held, "__aenter__"):
        async with held:
            yield
    elif hasattr(held, "__enter__"):
        with held:
            yield
    else:
        yield
