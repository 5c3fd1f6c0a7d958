"""The store thread: every store call of the dispatch loop runs on it, off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from dispatcher.dispatch.store_health import StoreHealth
from dispatcher.store.api import Store

T = TypeVar("T")


class StoreThread:
    """Runs store calls on one worker thread: the event loop never blocks on the database,
    and SQLite sees a single writer per process. ``health`` is the daemon's store health,
    which ``guarded`` calls report to (shared by every store thread of one daemon)."""

    def __init__(
        self, store: Store, *, name: str = "store", health: StoreHealth | None = None
    ) -> None:
        self.store = store
        self.health = health or StoreHealth()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._running_since: float | None = None  # monotonic start of the call on the thread

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(self._timed, fn, *args, **kwargs))

    async def guarded(self, site: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call``, its failure or success reported to ``health`` as a call at ``site``
        (the error is raised again: the caller decides whether to retry or give up)."""
        return await self.health.call(site, lambda: self.call(fn, *args, **kwargs))

    def _timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._running_since = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            self._running_since = None

    def running_for(self) -> float:
        """Seconds the call on the thread has run so far (0 when idle)."""
        since = self._running_since
        return 0.0 if since is None else time.monotonic() - since

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
