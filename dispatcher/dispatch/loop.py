"""The dispatch loop: claim → decide → render → send (retry) → record.

Claiming, deciding and reserving the attempt happen in one store transaction (see
``Store.claim_due``). Sends run concurrently, at most one per person. A claim is handed to its
channel only once the channel holds the capacity to send it now (``Channel.ready``); then it
is confirmed (``Store.start_sending``, batched with the others ready at the same time) and
decided again: a claim whose case or person changed since it was claimed (a payment, a
dispute, an opt-out) goes back to the pool and is decided again instead of sent. Outcomes are
recorded in small batches. A crash leaves confirmed attempts ``sending``: the next start (or,
for a node that never comes back, another node after ``claim_lease``) turns them into
``unknown`` and they are not sent again (a duplicate contact is a compliance incident, a
missing one is not); claims never confirmed go back to the pool. An outcome whose send holds
its channel's capacity is written at once, and the capacity comes back only then.

The loop wakes, idles and claims; the stages it wires are modules of their own: ``claims``,
``confirm``, ``send`` (with ``render`` and ``outcomes``), ``records`` and ``drain``. A store
call that fails is reported to the store's health (``store_health``: one log line per outage)
and tried again after a backoff; nothing the store does ends the loop, which beats
(``heartbeat``) as it turns and while it waits, so only a loop that is really stuck starves the
watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dispatcher.dispatch.claims import claim_due, observe_decisions, release_lost_claims
from dispatcher.dispatch.clock import Clock, utcnow
from dispatcher.dispatch.confirm import ClaimGivenBack, Confirmations
from dispatcher.dispatch.counters import Counters
from dispatcher.dispatch.drain import drain, give_back
from dispatcher.dispatch.held import HeldClaims
from dispatcher.dispatch.records import Records
from dispatcher.dispatch.send import Sender, Stopped
from dispatcher.dispatch.store_health import failure_reason
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime
from dispatcher.store.api import Claim, SendRecord

log = logging.getLogger("dispatcher.dispatch")
T = TypeVar("T")
# The loop beats (``heartbeat``: the watchdog, /healthz) at least this often (seconds) while it
# waits: idle, or for a store call that runs within ``CALL_BOUND`` seconds (longer than the
# store's own bounds: SQLite's busy timeout, PostgreSQL's statement timeout and cut).
BEAT_EVERY = 1.0
CALL_BOUND = 120.0


@dataclass
class Dispatcher:
    """The loop. ``runtime`` may be swapped between batches (reload)."""

    store: StoreThread
    runtime: Runtime
    clock: Clock = utcnow
    counters: Counters = field(default_factory=Counters)
    metrics: Metrics | None = None
    heartbeat: Callable[[], None] | None = None  # called as the loop turns (the watchdog)
    node: str = ""  # this daemon's name on its claims

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._held = HeldClaims()
        # When (the event loop's clock) to look for claims of ours that the loop does not hold
        # (``release_lost_claims``): before the next claim after a failed one, which may have
        # committed all the same, and every half lease besides, for a commit that landed
        # only after that look.
        self._lost_claims_at = 0.0
        self._confirmations = Confirmations(
            self.store, node=self.node, clock=self.clock, metrics=self.metrics
        )
        self._sender = Sender(
            self._current_runtime,
            self._confirmations,
            self._held,
            self._stopping,
            clock=self.clock,
            counters=self.counters,
            metrics=self.metrics,
        )
        self._records = Records(
            self.store,
            self._current_runtime,
            node=self.node,
            metrics=self.metrics,
            written=self.wake,
        )
        settings = self.runtime.config.dispatcher.dispatch
        self._slots = asyncio.Semaphore(settings.concurrency)

    # -- control ----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due reminders now (after planning, an event, a reload)."""
        self._wake.set()

    def changed(self, *, case_id: str | None = None, person_id: str | None = None) -> None:
        """A case or person changed in this process (an API event, an opt-out): a claim of
        theirs not yet sent is confirmed again just before its send, whatever was confirmed
        before. Changes made by other processes are caught by the confirmation itself."""
        for key in (case_id, person_id):
            if key is not None and (self._held.waiting or self._held.sends):
                self._confirmations.changed(key)
        self.wake()

    def stop(self) -> None:
        """Stop claiming; in-flight sends finish, waiting claims are released."""
        self._stopping.set()
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return self._held.sends

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def settle(self, timeout: float) -> None:
        """Wait (up to ``timeout``) for the sends started so far; later ones do not count."""
        started = self._held.running()
        if started:
            await asyncio.wait(started, timeout=timeout)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and send until stopped. A store that fails is tried again (with backoff)
        until it answers: nothing the store does ends the loop."""
        settings = self.runtime.config.dispatcher.dispatch
        self._records.start()
        try:
            while not self._stopping.is_set():
                self._beat()
                # Claimed work waiting for a send slot bounds how much more is claimed.
                room = settings.batch_size - self._held.waiting
                # Claim in big batches: a claim's cost is mostly per batch, not per reminder.
                claimed = await self._claim(room) if room >= max(1, settings.batch_size // 2) else 0
                if claimed:
                    if claimed < room:
                        await self._coalesce(settings.claim_coalesce.total_seconds())
                    continue
                await self._idle(settings.poll_interval.total_seconds())
        finally:
            await self._stop_stages(settings.drain_timeout.total_seconds())

    async def _stop_stages(self, drain_timeout: float) -> None:
        """The drain, then the last records flush: also when the store refuses the drain's
        release (the sends that happened must still be recorded; the claims it could not
        release are settled by the stop's recovery, or the next start's)."""
        try:
            await drain(self._held, self.store, self.clock, drain_timeout)
        except Exception as exc:
            self.store.health.failed("release", exc)
            log.error(
                "could not release unstarted claims at stop; the next start releases them",
                extra={"fields": {"error": failure_reason(exc)}},
            )
        finally:
            await self._records.finish()
            self._confirmations.close()

    def _beat(self) -> None:
        if self.heartbeat:
            self.heartbeat()

    async def _beating(self, call: Awaitable[T]) -> T:
        """Await a store call, the loop still beating while the call runs within
        ``CALL_BOUND`` (a busy SQLite or a slow server is the store's problem, not a wedged
        loop; a call past the bound is, and the watchdog is then left to starve)."""
        task = asyncio.ensure_future(call)
        while True:
            done, _ = await asyncio.wait({task}, timeout=BEAT_EVERY)
            if done:
                return task.result()
            if self.store.running_for() < CALL_BOUND:
                self._beat()

    async def _pause(self, site: str) -> None:
        """After a failed store call at ``site``: wait its backoff (cut short by recovery or
        stop)."""
        self._beat()
        await self.store.health.pause(site, self._stopping)

    async def _coalesce(self, wait: float) -> None:
        """After a batch that was not full: let more reminders come due before the next
        claim (``claim_coalesce``), so a trickle costs a few claims a second. Only a stop
        cuts it short: wake-ups (records written, events) come many times a second."""
        if wait > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)

    async def _idle(self, poll: float) -> None:
        """Sleep until the next reminder is due, at most ``poll``, or until woken."""
        self._wake.clear()  # before the query: a wake-up during it must not be lost
        if self._stopping.is_set():
            return
        timeout = poll
        try:
            next_due = await self._beating(
                self.store.guarded("next_due", self.store.store.next_due_at)
            )
        except Exception:  # reported to the store's health; tried again next turn
            await self._pause("next_due")
            return
        if next_due is not None:
            timeout = min(poll, max(0.0, (next_due - self.clock()).total_seconds()))
        deadline = asyncio.get_running_loop().time() + max(timeout, 0.001)
        while not self._wake.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(left, BEAT_EVERY))
            self._beat()

    async def _claim(self, limit: int) -> int:
        runtime = self.runtime
        try:
            monotonic = asyncio.get_running_loop().time
            if monotonic() >= self._lost_claims_at:
                # Between claims, so no claim of ours is under way to be taken for lost.
                held = self._held.attempt_ids() | self._records.attempt_ids()
                await self._beating(release_lost_claims(self.store, self.node, held, self.clock()))
                lease = runtime.config.dispatcher.dispatch.claim_lease.total_seconds()
                self._lost_claims_at = monotonic() + lease / 2
            batch = await self._beating(
                claim_due(self.store, runtime, self.clock(), limit, self.node)
            )
        except Exception:  # reported to the store's health; tried again after a pause
            self._lost_claims_at = 0.0
            await self._pause("claim")
            return 0
        if not batch.decided:
            return 0
        observe_decisions(
            batch, self.counters, self.metrics, runtime.plugins.manager.hook.on_decision
        )
        for claim in batch.claims:
            self._held.start(claim, self._send)
        return len(batch.decided)

    # -- one claim through the stages -----------------------------------------------------------

    async def _send(self, claim: Claim) -> None:
        async with self._slots:
            if self._stopping.is_set():
                return  # stays waiting; released by the drain
            record: SendRecord | None = None
            with self._confirmations.sending(claim):
                try:
                    record = await self._sender.attempt(claim)
                except Stopped:
                    return  # stays waiting; released by the drain
                except ClaimGivenBack as exc:
                    if exc.unconfirmed:
                        await self._give_back(claim)  # let go once the store takes it
                    else:
                        self._held.let_go(claim)  # the store gave it back itself
            if record is not None:
                self._held.let_go(claim)  # recorded: even if never handed over (an error)
            if not self._held.waiting and self._held.sends <= 1:
                self._confirmations.forget_changes()  # nothing left that a change could concern
            if record is None:
                self.counters.rechecked += 1
                self.wake()  # given back: decide it again at once
                return
        self._records.add(record, after=self._sender.recorded(claim.attempt_id))

    async def _give_back(self, claim: Claim) -> None:
        await give_back(claim, self._held, self.store, self.clock, self._stopping)

    def _current_runtime(self) -> Runtime:
        return self.runtime
