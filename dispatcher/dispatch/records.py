"""The record stage: the outcomes of sends, held and written in small batches (``Store.record``)
by a flusher, and a last few times at stop. An outcome whose send holds its channel's capacity
(``after``: a pool connection, given back once the outcome is written) is written at once: the
next message on that capacity waits for this write, and until it is durable a crash leaves the
attempt ``unknown``. Other outcomes are written at once when none was written in the last
``record_interval``; otherwise those that came meanwhile are written together when it has
passed (at once when ``FLUSH_AT`` wait). Outcomes that come while a write is in the store join
the next one, so a burst costs a transaction per write, not per send. After a refused write the
next waits the store's backoff, whatever waits. Each outcome written is counted in the metrics
and shown to ``on_attempt`` observers; then what was kept until it was written is given
back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from dispatcher.dispatch.store_health import failure_reason
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.runtime import Runtime
from dispatcher.store.api import SendRecord

log = logging.getLogger("dispatcher.dispatch")

FLUSH_AT = 500  # outcomes waiting before the flusher writes without waiting for its interval


class Records:
    """The outcomes not yet written, and the flusher that writes them. ``written`` is called
    after each successful write."""

    def __init__(
        self,
        store: StoreThread,
        runtime: Callable[[], Runtime],
        *,
        node: str,
        metrics: Metrics | None,
        written: Callable[[], None],
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._node = node
        self._metrics = metrics
        self._written = written
        self._unwritten: list[SendRecord] = []
        self._writing: list[SendRecord] = []  # taken by the write under way
        # Called once the outcome at the same place in ``_unwritten`` is written (or at the
        # end, written or not): each gives back the capacity its send held.
        self._after: list[Callable[[], None] | None] = []
        self._lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._drained = asyncio.Event()  # no send will add an outcome any more
        self._flusher: asyncio.Task[None] | None = None
        self._refused = False  # the last write was refused

    def add(self, record: SendRecord, after: Callable[[], None] | None = None) -> None:
        """Hold ``record`` for the next write; ``after`` is called once it is written."""
        self._unwritten.append(record)
        self._after.append(after)
        if after is not None or len(self._unwritten) == 1 or len(self._unwritten) >= FLUSH_AT:
            # The flusher writes (a send task is never the one cut off mid-write): at once, or
            # when the interval since its last write has passed.
            self._kick.set()

    def attempt_ids(self) -> set[str]:
        """The attempts whose outcomes are held here, not yet written."""
        return {r.attempt_id for r in (*self._unwritten, *self._writing)}

    def start(self) -> None:
        """Start the flusher."""
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def finish(self) -> None:
        """After the drain: the flusher writes what it holds and ends, then a last few tries
        for what the store refused."""
        # Never cancel the flusher: a batch of outcomes it holds would be lost mid-write.
        self._drained.set()
        self._kick.set()
        if self._flusher is not None:
            await self._flusher
        for pause in (0.0, 0.5, 2.0):  # a last few tries: these sends happened
            await asyncio.sleep(pause)
            if await self._flush_safely():
                break
        # What the store would not take stays ``sending`` (unknown at the next start); the
        # capacity its sends held is given back all the same, before the channels close.
        afters, self._after = self._after, []
        _call_all(afters)

    async def flush(self) -> bool:
        """Write the outcomes held so far; False (and they are kept for the next try) when
        the store refuses."""
        async with self._lock:
            if not self._unwritten:
                return True
            records, self._unwritten = self._unwritten, []
            afters, self._after = self._after, []
            self._writing = records
            try:
                await self._store.guarded("record", self._store.store.record, records, self._node)
            except Exception as exc:  # the store is down or locked: keep them, try again
                self._unwritten[:0] = records
                self._after[:0] = afters
                if not self._refused:  # once per refusal in a row; the health logs the outage
                    log.warning(
                        "could not record outcomes; will try again",
                        extra={"fields": {"count": len(records), "error": failure_reason(exc)}},
                    )
                self._refused = True
                return False
            finally:
                self._writing = []
        self._refused = False
        _call_all(afters)
        if self._metrics:
            for r in records:
                self._metrics.attempts.labels(r.channel, r.outcome.value).inc()
        self._observe(records)
        # Recorded sends free their people for the next claim.
        self._written()
        return True

    def _observe(self, records: list[SendRecord]) -> None:
        """Show the outcomes written to ``on_attempt`` observers; one that raises is logged,
        never allowed to stop the flusher (the outcomes are written already)."""
        hook = self._runtime().plugins.manager.hook.on_attempt
        if not hook.get_hookimpls():
            return
        for r in records:
            try:
                hook(
                    attempt_id=r.attempt_id,
                    channel=r.channel,
                    outcome=r.outcome.value,
                    error_code=r.error_code,
                )
            except Exception as exc:
                log.error(
                    "an on_attempt observer failed",
                    extra={"fields": {"attempt": r.attempt_id, "error": failure_reason(exc)}},
                )

    async def _flush_periodically(self) -> None:
        interval = self._runtime().config.dispatcher.dispatch.record_interval.total_seconds()
        clock = asyncio.get_running_loop().time
        written_at = -math.inf  # the last write (or refused try)
        refused_until = -math.inf  # after a refused write: the store's backoff
        wait: float | None = None  # until the next write; None: until an outcome comes
        while not self._drained.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=wait)
            self._kick.clear()
            if not self._unwritten:
                wait = None
                continue
            now = clock()
            due = next_write(written_at, refused_until, interval, at_once=self._urgent(), now=now)
            if due > now and not self._drained.is_set():
                wait = due - now  # outcomes that come meanwhile join this write
                continue
            written_at = now
            if await self._flush_safely():
                refused_until = -math.inf
                wait = 0.0 if self._unwritten else None  # those that came during the write
            else:
                refused_until = written_at + max(self._store.health.retry_delay("record"), interval)
                wait = refused_until - clock()

    def _urgent(self) -> bool:
        """Whether an outcome waiting holds a channel's capacity (the next message on it waits
        for the write), or enough wait to write without waiting for the interval."""
        return len(self._unwritten) >= FLUSH_AT or any(a is not None for a in self._after)

    async def _flush_safely(self) -> bool:
        """``flush``, any error it did not expect logged as a failed write (the flusher
        lives as long as the loop)."""
        try:
            return await self.flush()
        except Exception as exc:
            log.error("recording outcomes failed", extra={"fields": {"error": failure_reason(exc)}})
            return False


def next_write(
    written_at: float, refused_until: float, interval: float, *, at_once: bool, now: float
) -> float:
    """When the flusher writes next (on the clock of ``now``): one ``interval`` after the last
    write, ``written_at``, or as soon as it can when the outcomes waiting must not wait
    (``at_once``); never before ``refused_until``, the backoff after a refused write."""
    earliest = now if at_once else max(now, written_at + interval)
    return max(earliest, refused_until)


def _call_all(afters: list[Callable[[], None] | None]) -> None:
    """Call each of ``afters``; one that raises (a channel's ``release``) is logged, and the
    others are still called."""
    for after in afters:
        if after is None:
            continue
        try:
            after()
        except Exception as exc:
            log.error(
                "giving back a channel's capacity failed",
                extra={"fields": {"error": failure_reason(exc)}},
            )
