"""The store thread: every store call of the dispatch loop runs on it, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from dispatcher.store.api import Store

T = TypeVar("T")


class StoreThread:
    """Runs store calls on one worker thread: the event loop never blocks on the database,
    and SQLite sees a single writer per process."""

    def __init__(self, store: Store, *, name: str = "store") -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
