"""The record stage: the outcomes of sends, held and written in small batches (``Store.record``)
by a flusher every ``record_interval`` (at once when ``FLUSH_AT`` wait), and a last few times
at stop. Each outcome written is counted in the metrics and shown to ``on_attempt``
observers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
        self._lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._added = asyncio.Event()  # an outcome was added since the flusher last looked
        self._drained = asyncio.Event()  # no send will add an outcome any more
        self._flusher: asyncio.Task[None] | None = None
        self._refused = False  # the last write was refused

    def add(self, record: SendRecord) -> None:
        self._unwritten.append(record)
        self._added.set()
        if len(self._unwritten) >= FLUSH_AT:
            self._kick.set()  # the flusher writes; a send task is never the one cut off mid-write

    def start(self) -> None:
        """Start the flusher."""
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def finish(self) -> None:
        """After the drain: the flusher writes what it holds and ends, then a last few tries
        for what the store refused."""
        # Never cancel the flusher: a batch of outcomes it holds would be lost mid-write.
        self._drained.set()
        self._added.set()
        self._kick.set()
        if self._flusher is not None:
            await self._flusher
        for pause in (0.0, 0.5, 2.0):  # a last few tries: these sends happened
            await asyncio.sleep(pause)
            if await self._flush_safely():
                break

    async def flush(self) -> bool:
        """Write the outcomes held so far; False (and they are kept for the next try) when
        the store refuses."""
        async with self._lock:
            if not self._unwritten:
                return True
            records, self._unwritten = self._unwritten, []
            try:
                await self._store.guarded("record", self._store.store.record, records, self._node)
            except Exception as exc:  # the store is down or locked: keep them, try again
                self._unwritten[:0] = records
                if not self._refused:  # once per refusal in a row; the health logs the outage
                    log.warning(
                        "could not record outcomes; will try again",
                        extra={"fields": {"count": len(records), "error": failure_reason(exc)}},
                    )
                self._refused = True
                return False
        self._refused = False
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
        backoff = interval
        while not self._drained.is_set():
            if not self._unwritten:
                # Nothing held: sleep until an outcome comes, not every interval (an idle
                # daemon's flusher woke 20 times a second for nothing).
                self._added.clear()
                await self._added.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=backoff)
            self._kick.clear()
            if self._unwritten and not await self._flush_safely():
                backoff = max(self._store.health.retry_delay("record"), interval)
            else:
                backoff = interval

    async def _flush_safely(self) -> bool:
        """``flush``, any error it did not expect logged as a failed write (the flusher
        lives as long as the loop)."""
        try:
            return await self.flush()
        except Exception as exc:
            log.error("recording outcomes failed", extra={"fields": {"error": failure_reason(exc)}})
            return False
