"""The store's health as this process's own store calls see it: whether the last call failed
(and why, and since when), which calls fail (counted by call site), and how long the calls of
the dispatch loop should pause before trying again.

Every guarded call reports here: the first failure of an outage is logged (``store
unreachable`` with its reason), the following ones are only counted, and the first success
after them ends the outage (``store reachable again`` with its length). Nothing here calls the
store: readiness is read from this state, so it answers at once whatever the store does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from dispatcher.metrics import Metrics
from dispatcher.privacy import scrub

log = logging.getLogger("dispatcher.store")

T = TypeVar("T")

# A failed call is tried again after this many seconds, doubled after each failure in a row
# up to the most: a blip is retried at once, a long outage is not hammered. A recovery seen by
# any call (or the readiness probe) cuts every pause short.
RETRY_FIRST = 0.5
RETRY_MOST = 10.0
# A store call running this long (seconds) puts the store's health in doubt, even before it
# fails (a hung server, a write lock another process holds): the readiness probe then says.
SLOW_CALL = 1.0


def failure_reason(exc: BaseException) -> str:
    """What failed, for a log line: the error's type and the first line of its message (a
    database error's later lines hold the statement and its parameters, which may be
    personal data)."""
    lines = str(exc).strip().splitlines()
    first = scrub(lines[0])[:200] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class StoreHealth:
    """Outage state shared by every store call of the daemon (see the module's doc)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self.down_since: datetime | None = None  # the first failure of the outage under way
        self.reason = ""
        self._down_at = 0.0  # monotonic, for the outage's length
        self._up_at = time.monotonic()  # when the store last became reachable
        self._failures: dict[str, int] = {}  # failures in a row, by call site
        self._busy: dict[int, float] = {}  # calls running now → when they started (monotonic)
        self._recovered: asyncio.Event | None = None
        self.outages = 0

    # -- what calls report ----------------------------------------------------------------

    def failed(self, site: str, exc: BaseException, *, counted: bool = True) -> None:
        """A store call at ``site`` failed with ``exc`` (``counted`` False: the caller
        counts it in the metrics itself)."""
        self._failures[site] = self._failures.get(site, 0) + 1
        if self.metrics and counted:
            self.metrics.store_errors.labels(site).inc()
        if self.down_since is not None:
            return  # logged once per outage
        self.down_since = datetime.now(UTC)
        self._down_at = time.monotonic()
        self.reason = failure_reason(exc)
        self.outages += 1
        if self.metrics:
            self.metrics.store_up.set(0)
        log.error(
            "store unreachable; store calls are retried until it answers",
            extra={"fields": {"call": site, "error": self.reason}},
        )

    def succeeded(self, site: str) -> None:
        """A store call at ``site`` (or the probe) succeeded."""
        self._failures.pop(site, None)
        if self.down_since is None:
            return
        outage = time.monotonic() - self._down_at
        self.down_since = None
        self.reason = ""
        self._up_at = time.monotonic()
        if self.metrics:
            self.metrics.store_up.set(1)
            self.metrics.store_outage_seconds.inc(outage)
        log.warning(
            "store reachable again", extra={"fields": {"call": site, "outage_s": round(outage, 1)}}
        )
        if self._recovered is not None:
            self._recovered.set()
            self._recovered = None

    async def call(self, site: str, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` as a store call at ``site``: its failure or success is reported
        here; its error is raised again for the caller to handle."""
        token = object()
        self._busy[id(token)] = time.monotonic()
        try:
            result = await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed(site, exc)
            raise
        finally:
            self._busy.pop(id(token), None)
        self.succeeded(site)
        return result

    # -- what callers ask -------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def retry_delay(self, site: str) -> float:
        """How long the next try at ``site`` waits: the backoff after its failures in a row."""
        failures = self._failures.get(site, 1)
        return float(min(RETRY_FIRST * 2 ** max(0, failures - 1), RETRY_MOST))

    async def pause(self, site: str, stop: asyncio.Event | None = None) -> None:
        """Wait before trying ``site`` again: its backoff, cut short by a recovery or by
        ``stop``."""
        if self._recovered is None:
            self._recovered = asyncio.Event()
        waits = [asyncio.ensure_future(self._recovered.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, timeout=self.retry_delay(site), return_when="FIRST_COMPLETED")
        finally:
            for waiting in waits:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting

    def reachable_for(self) -> float:
        """Seconds since the store last became reachable (0 during an outage)."""
        return 0.0 if self.down else time.monotonic() - self._up_at

    def slow_since(self) -> float | None:
        """How long (seconds) the oldest store call running now has run, if any."""
        if not self._busy:
            return None
        return time.monotonic() - min(self._busy.values())

    def problem(self) -> str | None:
        """Why the store is not healthy now, for /readyz (None when it is)."""
        if self.down_since is None:
            return None
        since = self.down_since.isoformat(timespec="seconds")
        return f"store unreachable since {since}: {self.reason}"

    def doubtful(self) -> bool:
        """Whether the store's health is in doubt: down, or a call running for more than
        ``SLOW_CALL`` (a probe on a connection of its own then says which)."""
        slow = self.slow_since()
        return self.down or (slow is not None and slow > SLOW_CALL)
