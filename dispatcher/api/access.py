"""The daemon's state as the core's own request handlers (the ``/v1/`` API) use it: the store
on its thread, the config in force, the clock, the metrics. Internal: plugins get
``dispatcher.services.Services``, which wraps it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from dispatcher.metrics import Metrics
    from dispatcher.runtime import Runtime
    from dispatcher.store.api import Store

T = TypeVar("T")


class CoreAccess:
    """The daemon's state as the core's request handlers use it.

    ``call(fn, *args)`` runs a store method on the daemon's store thread (the only way to
    write to the store: SQLite sees one writer per process); ``read(fn, *args)`` runs a read
    method on the daemon's reader (its own thread and connection); ``changed(case_id=…,
    person_id=…)`` after a handler changed a case or person (an event, an opt-out): a claim of
    theirs not yet sent is checked again before its send, and the dispatch loop claims again
    at once.
    """

    def __init__(
        self,
        *,
        store: Store,
        call: Callable[..., Any],
        read: Callable[..., Any] | None = None,
        runtime: Callable[[], Runtime],
        clock: Callable[[], datetime],
        metrics: Metrics,
        changed: Callable[[str | None, str | None], None],
        last_reload: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        # The daemon's record of its last reload (time, ok, version, problems), when it keeps
        # one: the console shows it.
        self.last_reload = last_reload
        self._call = call
        self._read = read or call
        self._runtime = runtime
        self.clock = clock
        self.metrics = metrics
        self._changed = changed

    @property
    def runtime(self) -> Runtime:
        """The config in force now (it changes on reload)."""
        return self._runtime()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (a bound method of ``self.store``) on the store thread."""
        result: T = await self._call(fn, *args, **kwargs)
        return result

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (a read method of ``self.store``) on the daemon's reader, so it does not
        wait behind claims on the store thread (the store thread when there is no reader)."""
        result: T = await self._read(fn, *args, **kwargs)
        return result

    def changed(self, *, case_id: str | None = None, person_id: str | None = None) -> None:
        self._changed(case_id, person_id)
