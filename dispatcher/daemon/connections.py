"""The HTTP server's connections, bounded: at most ``cap`` open at once, well below the
process's file limit (a flood of idle connections must not use up the descriptors the store,
the channels and new requests need). When a new connection would pass the cap, the oldest idle
ones are closed first (idle: no request being answered, whether it sent nothing yet, half a
header, or waits between keep-alive requests); if every connection is busy, the new one is
closed. Slow clients are bounded by the server's header timeout and the handlers' body timeout.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("dispatcher.web")

# Descriptors kept for everything but HTTP clients: the store (database, WAL, a PostgreSQL
# pool), channels' connections to providers, spool and outbox files, logs.
RESERVED_FILES = 256


def connection_cap(file_limit: int | None = None) -> int:
    """How many HTTP connections may be open at once under ``file_limit`` (default: this
    process's soft RLIMIT_NOFILE): a quarter of it, at least, is kept for the rest."""
    if file_limit is None:
        file_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if file_limit == resource.RLIM_INFINITY:
        file_limit = 1 << 20
    return max(16, min(file_limit - RESERVED_FILES, file_limit * 3 // 4))


class _Refused(asyncio.Protocol):
    """A connection past the cap while every other one is busy: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class ConnectionGuard:
    """Keeps one server's connections under ``cap``: ``factory`` wraps its protocol factory,
    ``middleware`` marks the connections answering a request (busy, so not closed)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._busy: dict[RequestHandler, int] = {}
        self.closed = 0  # idle connections closed to make room

    def factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """``server``'s protocol factory, making room for each new connection first."""

        def admitted() -> asyncio.Protocol:
            live = [h for h in server.connections if h.transport is not None]
            if len(live) >= self.cap and not self._make_room(live):
                return _Refused()
            return server()

        return admitted

    def _make_room(self, live: list[RequestHandler]) -> bool:
        """Close the oldest idle connection; False when every one is busy."""
        idle = next((h for h in live if h not in self._busy), None)
        if idle is None:
            return False
        idle.force_close()
        self.closed += 1
        if self.closed % 1000 == 1:
            log.warning(
                "http connections at the cap: the oldest idle ones are closed",
                extra={"fields": {"cap": self.cap, "closed": self.closed}},
            )
        return True

    @property
    def backlog(self) -> int:
        """The listen backlog, which is also how many connections asyncio accepts at once
        before any is admitted here: small enough that a burst cannot pass the file limit
        before the oldest idle connections are closed."""
        return max(16, min(128, self.cap // 4))

    @property
    def busy(self) -> int:
        """How many connections are answering a request now."""
        return len(self._busy)

    @property
    def middleware(self) -> Middleware:
        @web.middleware
        async def busy(request: web.Request, handler: Handler) -> web.StreamResponse:
            protocol = request.protocol
            self._busy[protocol] = self._busy.get(protocol, 0) + 1
            try:
                return await handler(request)
            finally:
                left = self._busy.pop(protocol) - 1
                if left:
                    self._busy[protocol] = left

        return busy
