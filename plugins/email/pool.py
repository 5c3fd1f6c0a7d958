"""A pool of persistent SMTP connections: at most ``size`` open at once, each reused for
message after message; a connection that failed, or sat idle too long, is closed and a new
one opened when next needed. A connection is taken before the message is confirmed for
sending (the channel's ``ready``) and given back after it (``give_back``, which never waits).
After ``close`` no connection is kept: one still in use when the pool closed is ended when given
back."""

from __future__ import annotations

import asyncio
import time

import aiosmtplib
from dispatcher_plugins.email.settings import EmailSettings, TlsMode


class PoolClosed(Exception):
    """``acquire`` after ``close``."""


class SmtpPool:
    """Hands out connected, logged-in SMTP clients. ``opened`` counts the connections made
    since the pool was created (metrics, tests)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.pool_size)
        # Most recently used last: taking from the end keeps the busy connections warm and
        # lets the others reach the idle timeout when traffic drops.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self.opened = 0
        self._closed = False
        self._quitting: set[asyncio.Task[None]] = set()  # QUITs after close, until done

    async def acquire(self, *, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        """A connection for one message, and whether it was used before; give it back with
        ``release``. ``fresh`` opens a new one. Raises PoolClosed after ``close``, else what
        connecting raises (aiosmtplib errors, OSError)."""
        await self._slots.acquire()
        try:
            if self._closed:
                raise PoolClosed
            idle_limit = self.settings.idle_timeout.total_seconds()
            while self._idle and not fresh:
                client, since = self._idle.pop()
                if client.is_connected and time.monotonic() - since < idle_limit:
                    return client, True
                client.close()
            return await self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    async def reconnect(self, client: aiosmtplib.SMTP) -> aiosmtplib.SMTP:
        """A new connection in place of ``client`` (found closed by the server), on the same
        slot: the caller still gives it back with ``give_back``. Raises as ``acquire``."""
        client.close()
        if self._closed:
            raise PoolClosed
        return await self._connect()

    def give_back(self, client: aiosmtplib.SMTP, *, reusable: bool) -> None:
        """Give back a connection from ``acquire``: kept for the next message when
        ``reusable``, else closed; after ``close``, ended with QUIT (nobody would reuse it)."""
        try:
            if not (reusable and client.is_connected):
                client.close()
            elif self._closed:
                task = asyncio.ensure_future(self._quit(client))
                self._quitting.add(task)
                task.add_done_callback(self._quitting.discard)
            else:
                self._idle.append((client, time.monotonic()))
        finally:
            self._slots.release()

    async def close(self) -> None:
        """QUIT every idle connection; those in use are ended by their ``release``."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client, _ in idle))

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.smtp_port,
            username=s.username or None,
            password=s.password.get_secret_value() or None,
            use_tls=s.tls is TlsMode.IMPLICIT,
            start_tls={TlsMode.NONE: False, TlsMode.STARTTLS: True, TlsMode.IMPLICIT: False}[s.tls],
            validate_certs=s.validate_certs,
            timeout=s.connect_timeout.total_seconds(),
        )
        self.opened += 1
        await client.connect()
        # Commands of a message get their own, longer timeout from here on.
        client.timeout = s.command_timeout.total_seconds()
        return client

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit(timeout=2)
        except (aiosmtplib.SMTPException, OSError):
            client.close()
        except BaseException:  # cancelled: still free the socket
            client.close()
            raise
