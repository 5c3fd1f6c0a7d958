"""The store reader: the daemon's reads that do not need the writer — the status and queue
gauges, a case's history, the API's reads — run on a thread of their own, each on a
connection of its own from the store's pool, so they never queue behind claims,
confirmations, records or planning on the store thread. SQLite in WAL mode lets a reader
run beside the one writer (it reads the last committed state); PostgreSQL's pool gives it a
connection of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.store.api import Store

T = TypeVar("T")

# The store methods that only read (or, on PostgreSQL, fold the status counts, which waits
# on no writer): the only ones the reader runs.
READS = frozenset(
    {
        "status",
        "activity",
        "channel_recent",
        "node_claims",
        "unknown_attempts",
        "case_history",
        "case_of_reminder",
        "list_reminders",
        "get_case",
        "get_person",
        "next_due_at",
        "ping",
        "arrangements_of",
        "arrangement_counts",
        "balance",
        "refresh_statistics",  # PostgreSQL's ANALYZE waits on no writer; SQLite has none
    }
)


class StoreReader:
    """Runs the store's read methods on a thread of their own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._thread = StoreThread(store, name="store-reader")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn``, a read method of ``self.store`` (``READS``), on the reader thread."""
        if getattr(fn, "__self__", None) is not self.store or fn.__name__ not in READS:
            raise ValueError(f"{getattr(fn, '__name__', fn)!r} is not a read of the store")
        return await self._thread.call(fn, *args, **kwargs)

    def shutdown(self) -> None:
        self._thread.shutdown()
