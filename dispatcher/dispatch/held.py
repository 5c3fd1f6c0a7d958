"""The claims this process holds and has not finished: those not yet handed to a channel
(waiting for a send slot, for the channel's capacity, or for their confirmation), and the send
tasks running. The loop claims no more than a batch beyond what waits; a change made
here matters only while something is held; at stop the waiting ones are given back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from dispatcher.store.api import Claim

Send = Callable[[Claim], Coroutine[Any, Any, None]]


class HeldClaims:
    """Claims by attempt id until a channel takes them (or they are given back), and the send
    tasks until they end."""

    def __init__(self) -> None:
        self._waiting: dict[str, Claim] = {}  # claimed, not yet handed to a channel
        self._sends: set[asyncio.Task[None]] = set()

    def start(self, claim: Claim, send: Send) -> None:
        """Hold ``claim`` until a channel takes it, and start its send task."""
        self.hold(claim)
        # Named by its attempt: at stop the drain tells a send cut off from a claim waiting.
        task = asyncio.create_task(send(claim), name=claim.attempt_id)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def hold(self, claim: Claim) -> None:
        self._waiting[claim.attempt_id] = claim

    def let_go(self, claim: Claim) -> None:
        """``claim`` is no longer waiting: handed to its channel, or given back."""
        self._waiting.pop(claim.attempt_id, None)

    def holds(self, attempt_id: str) -> bool:
        """Whether the claim of ``attempt_id`` still waits (not yet handed to a channel)."""
        return attempt_id in self._waiting

    def attempt_ids(self) -> set[str]:
        """The attempts of the claims still waiting."""
        return set(self._waiting)

    def take_waiting(self) -> list[Claim]:
        """Every claim still waiting, no longer held."""
        waiting = list(self._waiting.values())
        self._waiting.clear()
        return waiting

    def running(self) -> set[asyncio.Task[None]]:
        """The send tasks started so far (a copy: later ones do not join it)."""
        return set(self._sends)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def sends(self) -> int:
        return len(self._sends)
