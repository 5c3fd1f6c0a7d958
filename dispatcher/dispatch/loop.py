"""The dispatch loop: claim → decide → render → send (retry) → record.

Claiming, deciding and reserving the attempt happen in one store transaction (see
``Store.claim_due``). Sends run concurrently, at most one per person. Just before a claim goes
to its channel it is confirmed (``Store.start_sending``, a group at a time, ahead of the sends):
a claim whose case or person changed since it was claimed (a payment, a dispute, an opt-out)
goes back to the pool and is decided again instead of sent. Outcomes are recorded in small
batches. A crash leaves confirmed attempts ``sending``: the next start (or, for a node that
never comes back, another node after ``claim_lease``) turns them into ``unknown`` and they are
not sent again (a duplicate contact is a compliance incident, a missing one is not); claims
never confirmed go back to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time as monotonic_time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import jinja2
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from dispatcher.channel import Channel, Message, PermanentError, SendResult, TransientError
from dispatcher.config.templates import TemplateNotFound
from dispatcher.metrics import Metrics
from dispatcher.model import Outcome, ReminderState, Verdict
from dispatcher.policy import decide
from dispatcher.privacy import mask, scrub
from dispatcher.runtime import Runtime
from dispatcher.store.api import Claim, SendRecord, Store

log = logging.getLogger("dispatcher.dispatch")
T = TypeVar("T")

Clock = Callable[[], datetime]
# Groups of claims confirmed ahead of the group now sending: enough that sends rarely wait for
# the store; each is a group more that a crash leaves ``unknown`` instead of giving back.
CONFIRM_AHEAD = 2
# A confirmation stands this long (seconds); a claim that waited longer for its send slot (a
# slow channel) is confirmed again, alone, so an event from another process is seen in time.
CONFIRMATION_FRESH = 1.0
FLUSH_AT = 500  # outcomes waiting before the flusher writes without waiting for its interval


def utcnow() -> datetime:
    return datetime.now(UTC)


class PolicyNoLongerAllows(Exception):
    """Raised before an in-process retry when the policy would not send at that instant."""


class ClaimGivenBack(Exception):
    """Confirmed again just before the send, the claim was not: its case or person changed
    (the store gave it back), or the store could not say (``unconfirmed``)."""

    def __init__(self, unconfirmed: bool) -> None:
        super().__init__()
        self.unconfirmed = unconfirmed


@dataclass
class Counters:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    rechecked: int = 0  # given back unsent: the case or person changed after the claim
    last_send: datetime | None = None


class StoreThread:
    """Runs store calls on one worker thread: the event loop never blocks on the database,
    and SQLite sees a single writer per process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def render_context(claim: Claim) -> dict[str, Any]:
    person, case, reminder = claim.person, claim.case, claim.reminder
    first_name = person.name.split()[0] if person.name.split() else person.name
    days_overdue = (reminder.due_at.date() - case.due_date).days
    return {
        "person": {
            "id": person.id,
            "name": person.name,
            "first_name": first_name,
            "locale": person.locale,
        },
        "case": {
            "id": case.id,
            "amount": case.amount,
            "currency": case.currency,
            "due_date": case.due_date,
            "days_overdue": max(days_overdue, 0),
        },
        "reminder": {
            "id": reminder.id,
            "step": reminder.step,
            "channel": reminder.channel,
            "schedule": reminder.schedule,
        },
    }


@dataclass(eq=False)
class _Confirmation:
    """Claims confirmed for sending together (``concurrency`` of them), one store transaction
    for all. The first group of a batch is confirmed by the claim itself; the next ones as
    the sends before them start (``CONFIRM_AHEAD``)."""

    claims: list[Claim]
    following: _Confirmation | None = None
    result: asyncio.Future[set[str]] | None = None
    confirmed_at: float = 0.0  # monotonic


@dataclass
class Dispatcher:
    """The loop. ``runtime`` may be swapped between batches (reload)."""

    store: StoreThread
    runtime: Runtime
    clock: Clock = utcnow
    counters: Counters = field(default_factory=Counters)
    metrics: Metrics | None = None
    heartbeat: Callable[[], None] | None = None  # called every loop turn (the watchdog)
    node: str = ""  # this daemon's name on its claims

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, Claim] = {}  # claimed, not yet handed to a channel
        self._confirmations: dict[str, _Confirmation] = {}  # attempt id → its group
        # A store that takes concurrent writers confirms on a thread of its own, beside the
        # claims and records, so sends do not wait behind a claim.
        self._confirmer = (
            StoreThread(self.store.store) if self.store.store.concurrent_writers else self.store
        )
        self._changed: set[str] = set()  # cases and people changed here since their claim
        self._confirmed_at: dict[str, float] = {}  # attempt id → when confirmed (monotonic)
        self._records: list[SendRecord] = []
        self._flush_lock = asyncio.Lock()
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
            if key is not None and (self._waiting or self._tasks):
                self._changed.add(key)
        self.wake()

    def stop(self) -> None:
        """Stop claiming; in-flight sends finish, waiting claims are released."""
        self._stopping.set()
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def settle(self, timeout: float) -> None:
        """Wait (up to ``timeout``) for the sends started so far; later ones do not count."""
        started = set(self._tasks)
        if started:
            await asyncio.wait(started, timeout=timeout)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        settings = self.runtime.config.dispatcher.dispatch
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            while not self._stopping.is_set():
                if self.heartbeat:
                    self.heartbeat()
                # Claimed work waiting for a send slot bounds how much more is claimed.
                room = settings.batch_size - len(self._waiting)
                # Claim in big batches: a claim's cost is mostly per batch, not per reminder.
                if room >= max(1, settings.batch_size // 2) and await self._claim(room):
                    continue
                await self._idle(settings.poll_interval.total_seconds())
        finally:
            await self._drain(settings.drain_timeout.total_seconds())
            # Never cancel the flusher: a batch of outcomes it holds would be lost mid-write.
            self._drained.set()
            self._kick.set()
            await flusher
            for pause in (0.0, 0.5, 2.0):  # a last few tries: these sends happened
                await asyncio.sleep(pause)
                if await self._flush():
                    break
            if self._confirmer is not self.store:
                self._confirmer.shutdown()

    async def _idle(self, poll: float) -> None:
        """Sleep until the next reminder is due, at most ``poll``, or until woken."""
        self._wake.clear()  # before the query: a wake-up during it must not be lost
        if self._stopping.is_set():
            return
        timeout = poll
        next_due = await self.store.call(self.store.store.next_due_at)
        if next_due is not None:
            timeout = min(poll, max(0.0, (next_due - self.clock()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(timeout, 0.001))

    async def _claim(self, limit: int) -> int:
        runtime = self.runtime
        now = self.clock()
        policy = runtime.policy

        def decide_now(reminder: Any, person: Any, case: Any, history: Any) -> Any:
            return decide(policy, reminder, person, case, history, now)

        batch = await self.store.call(
            self.store.store.claim_due,
            now,
            limit,
            decide_now,
            policy.lookback,
            self.node,
            runtime.policy_version,
        )
        if not batch.decided:
            return 0
        sends = len(batch.claims)
        defers = sum(1 for _, d in batch.decided if d.verdict is Verdict.DEFER)
        suppressed = len(batch.decided) - sends - defers
        self.counters.claimed += sends
        self.counters.deferred += defers
        self.counters.suppressed += suppressed
        log.info(
            "claimed batch",
            extra={
                "fields": {
                    "decided": len(batch.decided),
                    "send": sends,
                    "defer": defers,
                    "suppress": suppressed,
                }
            },
        )
        hook = runtime.plugins.manager.hook.on_decision
        has_observers = bool(hook.get_hookimpls())
        metrics = self.metrics
        for reminder, decision in batch.decided:
            if metrics:
                reason = decision.reasons[0].code if decision.reasons else ""
                metrics.decisions.labels(decision.verdict.value, reason).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "decision",
                    extra={
                        "fields": {
                            "reminder": reminder.id,
                            "case": reminder.case_id,
                            "verdict": decision.verdict.value,
                            "until": decision.until.isoformat() if decision.until else None,
                            "reasons": ",".join(r.code for r in decision.reasons),
                        }
                    },
                )
            if has_observers:
                hook(reminder=reminder, decision=decision)
        self._group_for_confirmation(batch.claims)
        for claim in batch.claims:
            self._waiting[claim.attempt_id] = claim
            task = asyncio.create_task(self._send(claim))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(batch.decided)

    # -- confirmation just before sending ------------------------------------------------------

    def _group_for_confirmation(self, claims: list[Claim]) -> None:
        size = max(1, self.runtime.config.dispatcher.dispatch.concurrency)
        previous: _Confirmation | None = None
        for start in range(0, len(claims), size):
            group = _Confirmation(claims[start : start + size])
            if previous is not None:
                previous.following = group
            previous = group
            for claim in group.claims:
                self._confirmations[claim.attempt_id] = group

    def _start_confirming(self, group: _Confirmation) -> None:
        if group.result is None:
            group.result = asyncio.ensure_future(self._confirm_group(group))

    async def _confirm_group(self, group: _Confirmation) -> set[str]:
        confirmed = await self._confirmer.call(
            self.store.store.start_sending, group.claims, self.node, self.clock()
        )
        group.confirmed_at = monotonic_time.monotonic()
        return confirmed

    async def _confirm(self, claim: Claim) -> bool | None:
        """Whether ``claim`` may be sent now: True, False (its case or person changed, so the
        store gave it back for a new decision; or it is no longer ours), None when the store
        could not say (the claim stays, to be released at stop or expired by lease)."""
        group = self._confirmations.pop(claim.attempt_id, None)
        if group is None or {claim.case.id, claim.person.id} & self._changed:
            # Changed here since it was claimed: confirm it alone, now.
            self._changed.discard(claim.case.id)
            self._changed.discard(claim.person.id)
            group = _Confirmation([claim])
        self._start_confirming(group)
        ahead = group
        for _ in range(CONFIRM_AHEAD):
            if ahead.following is None:
                break
            ahead = ahead.following
            self._start_confirming(ahead)
        confirmed = await self._outcome(group, claim)
        if confirmed and monotonic_time.monotonic() - group.confirmed_at > CONFIRMATION_FRESH:
            alone = _Confirmation([claim])
            self._start_confirming(alone)
            confirmed = await self._outcome(alone, claim)
        return confirmed

    async def _outcome(self, group: _Confirmation, claim: Claim) -> bool | None:
        assert group.result is not None
        try:
            confirmed = await asyncio.shield(group.result)
        except Exception as exc:  # the store failed: do not send what it did not confirm
            log.error(
                "could not confirm a claim for sending",
                extra={"fields": {"reminder": claim.reminder.id, "error": scrub(str(exc))}},
            )
            if self.metrics:
                self.metrics.store_errors.labels("confirm").inc()
            return None
        return claim.attempt_id in confirmed

    async def _give_back(self, claim: Claim) -> None:
        """The store could not confirm ``claim``: give it back (decided again later) rather
        than leave it held, renewed, by a node that will never send it. Tried until the store
        takes it; at stop, ``_drain`` releases what is still waiting."""
        pause = 0.5
        while True:
            try:
                await self.store.call(self.store.store.release, [claim], self.clock())
                break
            except Exception:
                if self._stopping.is_set():
                    self._waiting[claim.attempt_id] = claim
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
        self._waiting.pop(claim.attempt_id, None)

    # -- one send ---------------------------------------------------------------------------

    async def _send(self, claim: Claim) -> None:
        async with self._slots:
            if self._stopping.is_set():
                return  # stays in _waiting; released by _drain
            confirmed = await self._confirm(claim)
            if confirmed is None:
                await self._give_back(claim)
                return
            if self._stopping.is_set():
                return  # stays in _waiting; released by _drain
            self._waiting.pop(claim.attempt_id, None)
            record = None
            if confirmed:
                self._confirmed_at[claim.attempt_id] = monotonic_time.monotonic()
                try:
                    record = await self._attempt(claim)
                except ClaimGivenBack as exc:
                    if exc.unconfirmed:
                        await self._give_back(claim)
                finally:
                    self._confirmed_at.pop(claim.attempt_id, None)
            if not self._waiting and len(self._tasks) <= 1:
                self._changed.clear()  # nothing left that a change could concern
            if record is None:
                self.counters.rechecked += 1
                self.wake()  # given back: decide it again at once
                return
        self._records.append(record)
        if len(self._records) >= FLUSH_AT:
            self._kick.set()  # the flusher writes; a send task is never the one cut off mid-write

    async def _attempt(self, claim: Claim) -> SendRecord:
        runtime = self.runtime
        reminder = claim.reminder
        channel = runtime.channels.get(reminder.channel)
        if channel is None:
            return self._failed(
                claim, "channel_gone", f"channel {reminder.channel} is not configured"
            )
        try:
            rendered = runtime.config.templates.render(
                reminder.channel, reminder.template, claim.person.locale, render_context(claim)
            )
        except (TemplateNotFound, jinja2.TemplateError) as exc:
            log.error(
                "template failed",
                extra={
                    "fields": {
                        "reminder": reminder.id,
                        "template": reminder.template,
                        "error": scrub(str(exc)),
                    }
                },
            )
            return self._failed(claim, "template_error", str(exc))
        message = Message(
            attempt_id=claim.attempt_id,
            reminder_id=reminder.id,
            case_id=reminder.case_id,
            person_id=reminder.person_id,
            channel=reminder.channel,
            contact_kind=claim.contact.kind,
            contact=claim.contact.value,
            locale=rendered.locale,
            template=reminder.template,
            body=rendered.body,
            subject=rendered.subject,
            meta=rendered.meta,
            html=rendered.html,
        )
        started = monotonic_time.monotonic()
        try:
            result = await self._send_with_retry(channel, message, claim)
        except TransientError as exc:
            return self._transient(claim, exc)
        except PolicyNoLongerAllows:
            # Not the reminder's fault: decided again at once, without spending a try.
            return self._retry_later(
                claim, self.clock(), "policy_recheck", counted=False, spend=False
            )
        except PermanentError as exc:
            return self._permanent(claim, exc)
        except ClaimGivenBack:
            raise
        except Exception as exc:  # a plugin bug: we cannot know whether anyone was contacted
            log.exception(
                "channel raised an unexpected error",
                extra={
                    "fields": {
                        "reminder": reminder.id,
                        "channel": reminder.channel,
                        "error": scrub(str(exc)),
                    }
                },
            )
            self.counters.unknown += 1
            return self._record(
                claim,
                Outcome.UNKNOWN,
                ReminderState.UNKNOWN,
                counted=True,
                error_code="channel_crash",
                detail=scrub(repr(exc))[:500],
            )
        elapsed = monotonic_time.monotonic() - started
        self.counters.sent += 1
        self.counters.last_send = now = self.clock()
        if self.metrics:
            self.metrics.send_seconds.labels(reminder.channel).observe(elapsed)
            lag = (now - reminder.due_at).total_seconds()
            self.metrics.due_lag.labels(reminder.channel).observe(max(lag, 0.0))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sent",
                extra={
                    "fields": {
                        "reminder": reminder.id,
                        "channel": reminder.channel,
                        "to": mask(claim.contact.kind, claim.contact.value),
                        "ms": round(elapsed * 1000, 1),
                    }
                },
            )
        state = (
            ReminderState.DELIVERED if result.outcome is Outcome.DELIVERED else ReminderState.SENT
        )
        return self._record(
            claim,
            result.outcome,
            state,
            counted=True,
            provider_id=result.provider_id,
            detail=result.detail or None,
        )

    async def _send_with_retry(
        self, channel: Channel, message: Message, claim: Claim
    ) -> SendResult:
        settings = self.runtime.config.dispatcher.dispatch
        max_wait = settings.retry_max_wait.total_seconds()

        def retryable(exc: BaseException) -> bool:
            # Only a refusal that contacted nobody is retried in process, and only when the
            # provider's own hint fits in the short wait; anything longer is rescheduled so
            # the retry passes policy again.
            return (
                isinstance(exc, TransientError)
                and not exc.attempted
                and (exc.retry_after is None or exc.retry_after <= max_wait)
            )

        try:
            # The common case, without the retry machinery's per-call cost.
            return await self._send_now(channel, message, claim)
        except TransientError as exc:
            if settings.retry_attempts <= 1 or not retryable(exc):
                raise
        # Space the first retry like the later ones (tenacity waits only between its tries).
        await asyncio.sleep(random.uniform(0, min(0.2, max_wait)))
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(settings.retry_attempts - 1),
            wait=wait_random_exponential(multiplier=0.2, max=max_wait),
            retry=retry_if_exception(retryable),
            reraise=True,
        ):
            with attempt:
                self.counters.retried += 1
                # A reload may have replaced the channel meanwhile (the old one closes).
                channel = self.runtime.channels.get(claim.reminder.channel, channel)
                return await self._send_now(channel, message, claim)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_now(self, channel: Channel, message: Message, claim: Claim) -> SendResult:
        """Wait for the provider's capacity, then make sure the claim still stands: confirmed
        again in the store if the wait was long or its case or person changed here, and
        decided again at this very instant (a window may have closed). Then send."""
        await channel.ready(message)
        stale = monotonic_time.monotonic() - self._confirmed_at.get(claim.attempt_id, 0.0)
        if stale > CONFIRMATION_FRESH or {claim.case.id, claim.person.id} & self._changed:
            self._changed.discard(claim.case.id)
            self._changed.discard(claim.person.id)
            alone = _Confirmation([claim])
            self._start_confirming(alone)
            confirmed = await self._outcome(alone, claim)
            if not confirmed:
                raise ClaimGivenBack(unconfirmed=confirmed is None)
            self._confirmed_at[claim.attempt_id] = alone.confirmed_at
        self._recheck(claim)
        return await channel.send(message)

    def _recheck(self, claim: Claim) -> None:
        decision = decide(
            self.runtime.policy,
            claim.reminder,
            claim.person,
            claim.case,
            claim.history,
            self.clock(),
        )
        if decision.verdict is not Verdict.SEND:
            raise PolicyNoLongerAllows()

    # -- outcomes ---------------------------------------------------------------------------

    def _record(
        self,
        claim: Claim,
        outcome: Outcome,
        state: ReminderState,
        *,
        counted: bool,
        **details: Any,
    ) -> SendRecord:
        """The outcome of ``claim``'s attempt, finished now."""
        return SendRecord(
            channel=claim.reminder.channel,
            attempt_id=claim.attempt_id,
            reminder_id=claim.reminder.id,
            outcome=outcome,
            counted=counted,
            finished_at=self.clock(),
            reminder_state=state,
            **details,
        )

    def _failed(self, claim: Claim, code: str, detail: str) -> SendRecord:
        self.counters.failed += 1
        return self._record(
            claim,
            Outcome.FAILED_PERMANENT,
            ReminderState.FAILED,
            counted=False,
            error_code=code,
            detail=scrub(detail)[:500],
        )

    def _permanent(self, claim: Claim, exc: PermanentError) -> SendRecord:
        self.counters.failed += 1
        reminder = claim.reminder
        log.warning(
            "permanent failure",
            extra={
                "fields": {
                    "reminder": reminder.id,
                    "channel": reminder.channel,
                    "code": exc.code,
                    "to": mask(claim.contact.kind, claim.contact.value),
                    "error": scrub(str(exc)),
                }
            },
        )
        mark = None
        opt_out = None
        if exc.mark_contact == "invalid":
            mark = (reminder.person_id, claim.contact.kind.value, claim.contact.value, "invalid")
        elif exc.mark_contact == "opted_out":
            opt_out = (reminder.person_id, reminder.channel, claim.contact.value)
        return self._record(
            claim,
            Outcome.FAILED_PERMANENT,
            ReminderState.FAILED,
            counted=exc.attempted,
            error_code=exc.code or "permanent",
            detail=scrub(str(exc))[:500],
            mark_contact=mark,
            opt_out=opt_out,
        )

    def _transient(self, claim: Claim, exc: TransientError) -> SendRecord:
        if exc.attempted and not self._resends_unknown(claim):
            # The provider may have delivered it (a timeout after the request went out):
            # as after a crash, its fate is unknown and it is not sent again.
            self.counters.unknown += 1
            log.warning(
                "send of unknown outcome, not repeated",
                extra={
                    "fields": {
                        "reminder": claim.reminder.id,
                        "channel": claim.reminder.channel,
                        "code": exc.code,
                        "error": scrub(str(exc)),
                    }
                },
            )
            return self._record(
                claim,
                Outcome.UNKNOWN,
                ReminderState.UNKNOWN,
                counted=True,
                error_code=exc.code or "unknown",
                detail=scrub(str(exc))[:500],
            )
        now = self.clock()
        backoff = self._backoff(claim)
        if exc.retry_after:
            backoff = max(backoff, timedelta(seconds=exc.retry_after))
        log.info(
            "transient failure, rescheduled",
            extra={
                "fields": {
                    "reminder": claim.reminder.id,
                    "channel": claim.reminder.channel,
                    "code": exc.code,
                    "retry_in_s": int(backoff.total_seconds()),
                    "error": scrub(str(exc)),
                }
            },
        )
        return self._retry_later(
            claim,
            now + backoff,
            exc.code or "transient",
            counted=exc.attempted,
            detail=scrub(str(exc))[:500],
            spend=not exc.channel_down,
        )

    def _resends_unknown(self, claim: Claim) -> bool:
        settings = self.runtime.config.dispatcher.channels.get(claim.reminder.channel)
        return settings is not None and settings.on_unknown == "resend"

    def _backoff(self, claim: Claim) -> timedelta:
        settings = self.runtime.config.dispatcher.dispatch
        return settings.reschedule_after * (2 ** max(claim.reminder.tries, 0))

    def _retry_later(
        self,
        claim: Claim,
        at: datetime,
        code: str,
        *,
        counted: bool,
        detail: str | None = None,
        spend: bool = True,
    ) -> SendRecord:
        """Back to the queue at ``at``; with ``spend``, the claim's try counts toward
        ``max_tries`` (then the reminder gives up)."""
        settings = self.runtime.config.dispatcher.dispatch
        tries = claim.reminder.tries + 1
        if spend and tries >= settings.max_tries:
            self.counters.failed += 1
            return self._record(
                claim,
                Outcome.FAILED_TRANSIENT,
                ReminderState.FAILED,
                counted=counted,
                error_code=f"gave_up:{code}",
                detail=detail,
            )
        return self._record(
            claim,
            Outcome.FAILED_TRANSIENT,
            ReminderState.PENDING,
            counted=counted,
            error_code=code,
            detail=detail,
            reschedule_at=at,
            spent_try=spend,
        )

    # -- recording and stopping ---------------------------------------------------------------

    async def _flush(self) -> bool:
        """Write the outcomes held so far; False (and they are kept for the next try) when
        the store refuses."""
        async with self._flush_lock:
            if not self._records:
                return True
            records, self._records = self._records, []
            try:
                await self.store.call(self.store.store.record, records, self.node)
            except Exception as exc:  # the store is down or locked: keep them, try again
                self._records[:0] = records
                log.error(
                    "could not record outcomes; will try again",
                    extra={"fields": {"count": len(records), "error": scrub(str(exc))[:300]}},
                )
                if self.metrics:
                    self.metrics.store_errors.labels("record").inc()
                return False
        if self.metrics:
            for r in records:
                self.metrics.attempts.labels(r.channel, r.outcome.value).inc()
        hook = self.runtime.plugins.manager.hook.on_attempt
        if hook.get_hookimpls():
            for r in records:
                hook(
                    attempt_id=r.attempt_id,
                    channel=r.channel,
                    outcome=r.outcome.value,
                    error_code=r.error_code,
                )
        # Recorded sends free their people for the next claim.
        self.wake()
        return True

    async def _flush_periodically(self) -> None:
        interval = self.runtime.config.dispatcher.dispatch.record_interval.total_seconds()
        backoff = interval
        while not self._drained.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=backoff)
            self._kick.clear()
            if self._records and not await self._flush():
                backoff = min(max(backoff * 2, 0.1), 5.0)  # the store is struggling
            else:
                backoff = interval

    async def _drain(self, timeout: float) -> None:
        """Let started sends finish (up to ``timeout``), then give back unstarted claims."""
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
                log.warning(
                    "sends still running at stop; their outcome is unknown",
                    extra={"fields": {"count": len(pending)}},
                )
        waiting = list(self._waiting.values())
        self._waiting.clear()
        if waiting:
            await self.store.call(self.store.store.release, waiting, self.clock())
            log.info("released unstarted claims", extra={"fields": {"count": len(waiting)}})
