"""Giving claims back to the pool, to be decided again: at stop, once the started sends
have finished (``drain``), every claim not yet handed to a channel; and a claim the store could
not confirm (``give_back``), as soon as the store takes it."""

from __future__ import annotations

import asyncio
import logging

from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.held import HeldClaims
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.store.api import Claim

log = logging.getLogger("dispatcher.dispatch")


async def drain(held: HeldClaims, store: StoreThread, clock: Clock, timeout: float) -> None:
    """Let started sends finish (up to ``timeout``), then give back unstarted claims. Logged
    apart: the sends cut off in their channel (their outcome is unknown), and the claims
    given back (never handed to a channel, waiting for a send slot or a confirmation when the
    stop came: nothing was sent)."""
    running = held.running()
    if running:
        _, pending = await asyncio.wait(running, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            # A task whose claim still waits never handed it to its channel: cutting it off
            # sent nothing, and its claim is given back below.
            cut = sum(1 for task in pending if not held.holds(task.get_name()))
            if cut:
                log.warning(
                    "sends cut off at stop; their outcome is unknown",
                    extra={"fields": {"count": cut}},
                )
    waiting = held.take_waiting()
    if waiting:
        released = await store.call(store.store.release, waiting, clock())
        # A claim settled meanwhile elsewhere (another node's recovery) is not given back.
        log.info(
            "released unstarted claims",
            extra={"fields": {"count": released, "settled_elsewhere": len(waiting) - released}},
        )


async def give_back(
    claim: Claim, held: HeldClaims, store: StoreThread, clock: Clock, stopping: asyncio.Event
) -> None:
    """The store could not confirm ``claim``: give it back (decided again later) rather
    than leave it held, renewed, by a node that will never send it. Tried until the store
    takes it; at stop, ``drain`` releases what is still waiting."""
    pause = 0.5
    while True:
        try:
            await store.call(store.store.release, [claim], clock())
            break
        except Exception:
            if stopping.is_set():
                held.hold(claim)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)
    held.let_go(claim)
