"""Confirmation at the hand-off (``Store.start_sending``): a claim is confirmed for sending only
once its channel holds the capacity to send it now (``Channel.ready``), so a crash leaves
``unknown`` only for messages really handed to a provider. A claim whose case or person changed
since it was claimed goes back to the pool instead of to its channel.

Claims are confirmed in batches bounded by what can be sent now: the claims that became ready
while the previous confirmation was in the store are confirmed together, in one transaction.
A change made in this process while a claim's confirmation was in the store has it confirmed
again; a confirmation that has grown old (an in-process retry) is made again before the next
try. Nothing the store did not confirm is sent."""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Iterator
from contextlib import contextmanager

from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.privacy import scrub
from dispatcher.store.api import Claim

log = logging.getLogger("dispatcher.dispatch")

# A confirmation stands this long (seconds); a claim tried again after longer (an in-process
# retry) is confirmed again first, so an event from another process is seen in time.
CONFIRMATION_FRESH = 1.0

# What the store said of one claim: confirmed, not (given back, or no longer ours), or None
# when it could not say; and when it said it (monotonic).
Answer = tuple[bool | None, float]


class ClaimGivenBack(Exception):
    """The store did not confirm the claim: its case or person changed (the store gave it
    back), it is no longer ours, or the store could not say (``unconfirmed``)."""

    def __init__(self, unconfirmed: bool) -> None:
        super().__init__()
        self.unconfirmed = unconfirmed


class Confirmations:
    """The confirmation state of this process's claims: the claims waiting for the next
    confirmation, the cases and people changed here since their claim, and when each claim
    now sending was last confirmed."""

    def __init__(
        self, store: StoreThread, *, node: str, clock: Clock, metrics: Metrics | None
    ) -> None:
        self._store = store
        # A store that takes concurrent writers confirms on a thread of its own, beside the
        # claims and records, so sends do not wait behind a claim.
        self._confirmer = StoreThread(store.store) if store.store.concurrent_writers else store
        self._node = node
        self._clock = clock
        self._metrics = metrics
        self._next: list[tuple[Claim, asyncio.Future[Answer]]] = []  # the next batch
        self._confirming: asyncio.Task[None] | None = None
        self._changed: set[str] = set()  # cases and people changed here since their claim
        self._confirmed_at: dict[str, float] = {}  # attempt id → when confirmed (monotonic)

    def changed(self, key: str) -> None:
        """A case or person (by id) changed in this process since its claims were made."""
        self._changed.add(key)

    def forget_changes(self) -> None:
        self._changed.clear()

    async def confirm(self, claim: Claim) -> None:
        """Just before ``claim`` goes to its channel, which holds the capacity to send it now:
        confirmed in the store (unless confirmed moments ago and unchanged since), and again
        if its case or person changed here while the store was asked. ``ClaimGivenBack`` when
        the store did not confirm it."""
        at = self._confirmed_at.get(claim.attempt_id)
        fresh = at is not None and monotonic_time.monotonic() - at <= CONFIRMATION_FRESH
        # A change seen before the store is asked is seen by the store itself.
        if self._take_change(claim) or not fresh:
            confirmed, at = await self._batched(claim)
            while confirmed and self._take_change(claim):
                # Changed while the store was asked: the answer may predate the change.
                confirmed, at = await self._batched(claim)
            if not confirmed:
                raise ClaimGivenBack(unconfirmed=confirmed is None)
            self._confirmed_at[claim.attempt_id] = at

    @contextmanager
    def sending(self, claim: Claim) -> Iterator[None]:
        """``claim`` is between its first confirmation and its outcome; afterwards its
        confirmation is forgotten."""
        try:
            yield
        finally:
            self._confirmed_at.pop(claim.attempt_id, None)

    def close(self) -> None:
        if self._confirmer is not self._store:
            self._confirmer.shutdown()

    def _take_change(self, claim: Claim) -> bool:
        """Whether ``claim``'s case or person changed here; the change is then taken into
        account (by the confirmation about to be made)."""
        changed = bool({claim.case.id, claim.person.id} & self._changed)
        self._changed.discard(claim.case.id)
        self._changed.discard(claim.person.id)
        return changed

    async def _batched(self, claim: Claim) -> Answer:
        """``claim`` confirmed with the next batch: at once when no confirmation is in the
        store, else as soon as the one in the store returns."""
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._next.append((claim, answer))
        if self._confirming is None:
            self._confirming = asyncio.create_task(self._confirm_batches())
        return await answer

    async def _confirm_batches(self) -> None:
        try:
            while self._next:
                # Claims made ready in the same turn of the event loop join this batch.
                await asyncio.sleep(0)
                batch, self._next = self._next, []
                claims = [claim for claim, answer in batch if not answer.done()]
                answers = await self._ask(claims)
                at = monotonic_time.monotonic()
                for claim, answer in batch:
                    if not answer.done():  # a send cancelled meanwhile (the drain timed out)
                        answer.set_result((answers.get(claim.attempt_id), at))
        finally:
            self._confirming = None

    async def _ask(self, claims: list[Claim]) -> dict[str, bool | None]:
        """The store's word on each of ``claims`` (None for all when it failed)."""
        if not claims:
            return {}
        try:
            confirmed = await self._confirmer.call(
                self._store.store.start_sending, claims, self._node, self._clock()
            )
        except Exception as exc:  # the store failed: do not send what it did not confirm
            # Logged once per outage, by the store's health; each batch only at debug.
            self._store.health.failed("confirm", exc, counted=False)
            log.debug(
                "could not confirm claims for sending",
                extra={"fields": {"count": len(claims), "error": scrub(str(exc))}},
            )
            if self._metrics:
                self._metrics.store_errors.labels("confirm").inc()
            return {claim.attempt_id: None for claim in claims}
        return {claim.attempt_id: claim.attempt_id in confirmed for claim in claims}
