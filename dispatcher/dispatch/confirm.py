"""Confirmation just before sending (``Store.start_sending``): a claim whose case or person
changed since it was claimed goes back to the pool instead of to its channel. Claims are
confirmed a group at a time, a few groups ahead of the sends; a confirmation that has grown
old, or a change made in this process, has the claim confirmed again, alone. Nothing the store
did not confirm is sent."""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise

from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.privacy import scrub
from dispatcher.store.api import Claim

log = logging.getLogger("dispatcher.dispatch")

# Groups of claims confirmed ahead of the group now sending: enough that sends rarely wait for
# the store; each is a group more that a crash leaves ``unknown`` instead of giving back.
CONFIRM_AHEAD = 2
# A confirmation stands this long (seconds); a claim that waited longer for its send slot (a
# slow channel) is confirmed again, alone, so an event from another process is seen in time.
CONFIRMATION_FRESH = 1.0


class ClaimGivenBack(Exception):
    """Confirmed again just before the send, the claim was not: its case or person changed
    (the store gave it back), or the store could not say (``unconfirmed``)."""

    def __init__(self, unconfirmed: bool) -> None:
        super().__init__()
        self.unconfirmed = unconfirmed


@dataclass(eq=False)
class Confirmation:
    """Claims confirmed for sending together (``concurrency`` of them), one store transaction
    for all. The first group of a batch is confirmed by the claim itself; the next ones as
    the sends before them start (``CONFIRM_AHEAD``)."""

    claims: list[Claim]
    following: Confirmation | None = None
    result: asyncio.Future[set[str]] | None = None
    confirmed_at: float = 0.0  # monotonic


def confirmation_groups(claims: list[Claim], size: int) -> list[Confirmation]:
    """``claims`` in groups of ``size`` (at least one), in order, each linked to the next."""
    size = max(1, size)
    groups = [Confirmation(claims[start : start + size]) for start in range(0, len(claims), size)]
    for group, following in pairwise(groups):
        group.following = following
    return groups


class Confirmations:
    """The confirmation state of this process's claims: the group each waiting claim is
    confirmed with, the cases and people changed here since their claim, and when each claim
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
        self._groups: dict[str, Confirmation] = {}  # attempt id → its group
        self._changed: set[str] = set()  # cases and people changed here since their claim
        self._confirmed_at: dict[str, float] = {}  # attempt id → when confirmed (monotonic)

    def group(self, claims: list[Claim], size: int) -> None:
        """A batch just claimed, to be confirmed ``size`` claims at a time."""
        for group in confirmation_groups(claims, size):
            for claim in group.claims:
                self._groups[claim.attempt_id] = group

    def changed(self, key: str) -> None:
        """A case or person (by id) changed in this process since its claims were made."""
        self._changed.add(key)

    def forget_changes(self) -> None:
        self._changed.clear()

    async def confirm(self, claim: Claim) -> bool | None:
        """Whether ``claim`` may be sent now: True, False (its case or person changed, so the
        store gave it back for a new decision; or it is no longer ours), None when the store
        could not say (the claim stays, to be released at stop or expired by lease)."""
        group = self._groups.pop(claim.attempt_id, None)
        if self._take_change(claim) or group is None:
            # Changed here since it was claimed: confirm it alone, now.
            group = Confirmation([claim])
        self._start(group)
        ahead = group
        for _ in range(CONFIRM_AHEAD):
            if ahead.following is None:
                break
            ahead = ahead.following
            self._start(ahead)
        confirmed = await self._result(group, claim)
        if confirmed and monotonic_time.monotonic() - group.confirmed_at > CONFIRMATION_FRESH:
            confirmed, _ = await self._confirm_alone(claim)
        return confirmed

    async def confirm_at_send(self, claim: Claim) -> None:
        """Just before ``claim`` goes to its channel (after waiting for the channel's
        capacity): confirmed again in the store if the wait was long or its case or person
        changed here; ``ClaimGivenBack`` when the store did not confirm it."""
        stale = monotonic_time.monotonic() - self._confirmed_at.get(claim.attempt_id, 0.0)
        if self._take_change(claim) or stale > CONFIRMATION_FRESH:
            confirmed, confirmed_at = await self._confirm_alone(claim)
            if not confirmed:
                raise ClaimGivenBack(unconfirmed=confirmed is None)
            self._confirmed_at[claim.attempt_id] = confirmed_at

    @contextmanager
    def sending(self, claim: Claim) -> Iterator[None]:
        """``claim``, confirmed just now, is being sent (its confirmation dates from now)."""
        self._confirmed_at[claim.attempt_id] = monotonic_time.monotonic()
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

    async def _confirm_alone(self, claim: Claim) -> tuple[bool | None, float]:
        """``claim`` confirmed by itself, now: the answer (as ``confirm``'s) and when the
        store gave it (monotonic)."""
        alone = Confirmation([claim])
        self._start(alone)
        return await self._result(alone, claim), alone.confirmed_at

    def _start(self, group: Confirmation) -> None:
        if group.result is None:
            group.result = asyncio.ensure_future(self._confirm_group(group))

    async def _confirm_group(self, group: Confirmation) -> set[str]:
        confirmed = await self._confirmer.call(
            self._store.store.start_sending, group.claims, self._node, self._clock()
        )
        group.confirmed_at = monotonic_time.monotonic()
        return confirmed

    async def _result(self, group: Confirmation, claim: Claim) -> bool | None:
        assert group.result is not None
        try:
            confirmed = await asyncio.shield(group.result)
        except Exception as exc:  # the store failed: do not send what it did not confirm
            # Logged once per outage, by the store's health; each claim only at debug.
            self._store.health.failed("confirm", exc, counted=False)
            log.debug(
                "could not confirm a claim for sending",
                extra={"fields": {"reminder": claim.reminder.id, "error": scrub(str(exc))}},
            )
            if self._metrics:
                self._metrics.store_errors.labels("confirm").inc()
            return None
        return claim.attempt_id in confirmed
