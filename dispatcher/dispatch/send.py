"""The send stage: one claim through its channel. Its message is rendered; then, for each try,
the channel takes the capacity to send it now (``ready``), and only then is the claim confirmed
in the store (``confirm``) and decided again at this very instant (a window may have closed,
a payment may have come): a crash leaves ``unknown`` only for messages really handed to the
provider. Then it is sent at once. The capacity is given back (``release``) once the send's
outcome is written (``recorded``), so a channel never has more attempts ``sending`` than it has
capacity, and a crash leaves at most that many ``unknown`` (``records`` writes such an outcome
at once). A refusal that contacted nobody is retried in process (tenacity) while the provider's
hint fits the short wait, its capacity given back at once. The result or error becomes the
record to write (``outcomes``)."""

from __future__ import annotations

import asyncio
import logging
import random
import time as monotonic_time
from collections.abc import Callable
from datetime import datetime
from functools import partial

import jinja2
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from dispatcher.channel import Channel, Message, SendResult, TransientError
from dispatcher.config.templates import TemplateNotFound
from dispatcher.dispatch import outcomes
from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.confirm import ClaimGivenBack, Confirmations
from dispatcher.dispatch.counters import Counters
from dispatcher.dispatch.decision import decide_guarded
from dispatcher.dispatch.held import HeldClaims
from dispatcher.dispatch.render import compose
from dispatcher.metrics import Metrics
from dispatcher.model import Verdict
from dispatcher.privacy import mask, scrub
from dispatcher.runtime import Runtime
from dispatcher.store.api import Claim, SendRecord

log = logging.getLogger("dispatcher.dispatch")


class PolicyNoLongerAllows(Exception):
    """Raised before a try when the policy would not send at that instant."""


class Stopped(Exception):
    """The daemon stops while the claim waits for its channel's capacity, or before it is
    handed over: it stays held, and the drain gives it back."""


def retried_in_process(exc: BaseException, max_wait: float) -> bool:
    # Only a refusal that contacted nobody is retried in process, and only when the
    # provider's own hint fits in the short wait; anything longer is rescheduled so
    # the retry passes policy again.
    return (
        isinstance(exc, TransientError)
        and not exc.attempted
        and (exc.retry_after is None or exc.retry_after <= max_wait)
    )


class Sender:
    """Sends claims with the runtime of the moment (``runtime`` may be swapped by a reload
    between two tries) and counts what became of them. A claim is let go from ``held`` when
    its channel takes it; ``stopping`` cuts short a wait for capacity."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        confirmations: Confirmations,
        held: HeldClaims,
        stopping: asyncio.Event,
        *,
        clock: Clock,
        counters: Counters,
        metrics: Metrics | None,
    ) -> None:
        self._runtime = runtime
        self._confirmations = confirmations
        self._held = held
        self._stopping = stopping
        self._stop_seen: asyncio.Task[bool] | None = None
        self._clock = clock
        self._counters = counters
        self._metrics = metrics
        # attempt id → gives back the capacity its send holds until the outcome is written
        self._unrecorded: dict[str, Callable[[], None]] = {}

    async def attempt(self, claim: Claim) -> SendRecord:
        """Send ``claim`` and return its outcome; ``ClaimGivenBack`` when, at the hand-off,
        the store did not confirm it; ``Stopped`` when the daemon stops before it is handed
        to its channel."""
        record = await self._attempt(claim)
        self._counters.count(record)
        return record

    def recorded(self, attempt_id: str) -> Callable[[], None] | None:
        """What gives back the capacity ``attempt_id``'s send still holds, to call once its
        outcome is written (None when it holds none)."""
        return self._unrecorded.pop(attempt_id, None)

    async def _attempt(self, claim: Claim) -> SendRecord:
        runtime = self._runtime()
        reminder = claim.reminder
        channel = runtime.channels.get(reminder.channel)
        if channel is None:
            return outcomes.failed(
                claim,
                "channel_gone",
                f"channel {reminder.channel} is not configured",
                self._clock(),
            )
        try:
            signer = runtime.self_service[0]
            message = compose(claim, runtime.config.templates, signer, self._clock())
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
            return outcomes.failed(claim, "template_error", str(exc), self._clock())
        return await self._deliver(channel, message, claim)

    async def _deliver(self, channel: Channel, message: Message, claim: Claim) -> SendRecord:
        started = monotonic_time.monotonic()
        try:
            result = await self._send_with_retry(channel, message, claim)
        except Stopped:
            if self._held.holds(claim.attempt_id):
                raise  # never handed over: the drain gives it back
            return self._not_now(claim, "stopping")  # between two tries
        except PolicyNoLongerAllows:
            return self._not_now(claim, "policy_recheck")
        except ClaimGivenBack:
            raise
        except Exception as exc:  # the channel's error, or a plugin bug
            runtime = self._runtime()
            if self._metrics and isinstance(exc, TransientError) and exc.channel_down:
                self._metrics.set_channel_up(claim.reminder.channel, False)
            return outcomes.refused(
                claim,
                exc,
                runtime.retry_rule(claim.reminder.channel),
                runtime.config.dispatcher.channels.get(claim.reminder.channel),
                self._clock(),
            )
        elapsed = monotonic_time.monotonic() - started
        now = self._clock()
        self._observe_sent(claim, elapsed, now)
        return outcomes.sent(claim, result, now)

    def _not_now(self, claim: Claim, code: str) -> SendRecord:
        """Not the reminder's fault: decided again at once, without spending a try."""
        now = self._clock()
        settings = self._runtime().config.dispatcher.dispatch
        return outcomes.retry_later(
            claim, now, code, max_tries=settings.max_tries, now=now, counted=False, spend=False
        )

    def _observe_sent(self, claim: Claim, elapsed: float, now: datetime) -> None:
        reminder = claim.reminder
        if self._metrics:
            self._metrics.set_channel_up(reminder.channel, True)
            self._metrics.send_seconds.labels(reminder.channel).observe(elapsed)
            lag = (now - reminder.due_at).total_seconds()
            self._metrics.due_lag.labels(reminder.channel).observe(max(lag, 0.0))
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

    async def _send_with_retry(
        self, channel: Channel, message: Message, claim: Claim
    ) -> SendResult:
        settings = self._runtime().config.dispatcher.dispatch
        max_wait = settings.retry_max_wait.total_seconds()
        retryable = partial(retried_in_process, max_wait=max_wait)
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
                self._counters.retried += 1
                # A reload may have replaced the channel meanwhile (the old one closes).
                channel = self._runtime().channels.get(claim.reminder.channel, channel)
                return await self._send_now(channel, message, claim)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_now(self, channel: Channel, message: Message, claim: Claim) -> SendResult:
        """Wait for the channel to take the capacity to send ``message`` now; then make sure
        the claim still stands: confirmed in the store (again, if it was long ago or its case
        or person changed here) and decided again at this very instant. Then hand it over,
        and give the capacity back whatever happened."""
        await self._ready(channel, message)
        handed = False
        try:
            await self._confirmations.confirm(claim)
            if self._stopping.is_set() and self._held.holds(claim.attempt_id):
                raise Stopped()
            self._recheck(claim)
            self._held.let_go(claim)
            handed = True
            result = await channel.send(message)
        except BaseException as exc:
            if handed and isinstance(exc, Exception) and not self._tried_again(exc):
                self._keep_until_recorded(channel, message)
            else:  # never handed over, cancelled, or tried again at once (nothing was sent)
                channel.release(message)
            raise
        self._keep_until_recorded(channel, message)
        return result

    def _tried_again(self, exc: Exception) -> bool:
        settings = self._runtime().config.dispatcher.dispatch
        return settings.retry_attempts > 1 and retried_in_process(
            exc, settings.retry_max_wait.total_seconds()
        )

    def _keep_until_recorded(self, channel: Channel, message: Message) -> None:
        if type(channel).release is Channel.release:
            return  # it holds nothing (the common case, without a closure per send)
        self._unrecorded[message.attempt_id] = partial(channel.release, message)

    async def _ready(self, channel: Channel, message: Message) -> None:
        """``channel.ready(message)``, cut short by a stop (``Stopped``); a wait abandoned
        leaves the channel holding nothing for ``message``."""
        if self._stopping.is_set():
            raise Stopped()
        if type(channel).ready is Channel.ready:
            return  # nothing to wait for (the common case, without a task per send)
        if self._stop_seen is None:
            self._stop_seen = asyncio.ensure_future(self._stopping.wait())
        ready = asyncio.ensure_future(channel.ready(message))
        try:
            await asyncio.wait((ready, self._stop_seen), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled (the drain timed out)
            await _abandon(ready, channel, message)
            raise
        if not ready.done():
            await _abandon(ready, channel, message)
            raise Stopped()
        ready.result()  # the channel's error, if any

    def _recheck(self, claim: Claim) -> None:
        decision = decide_guarded(
            self._runtime().policy,
            claim.reminder,
            claim.person,
            claim.case,
            claim.history,
            self._clock(),
        )
        if decision.verdict is not Verdict.SEND:
            raise PolicyNoLongerAllows()


async def _abandon(ready: asyncio.Future[None], channel: Channel, message: Message) -> None:
    """Stop waiting for ``channel``'s capacity; what it took all the same is given back."""
    ready.cancel()
    try:
        await ready
    except (asyncio.CancelledError, Exception):
        return  # cancelled, or failed: it holds nothing
    channel.release(message)
