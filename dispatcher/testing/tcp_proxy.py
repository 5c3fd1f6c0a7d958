"""A TCP proxy on loopback whose faults a test or benchmark controls: put it between the
daemon and its PostgreSQL and switch it between modes while the daemon runs.

- ``pass``: forward both ways.
- ``refuse``: a server gone: the listener is closed (new connections are refused) and the
  connections open are reset.
- ``reset``: a server that resets: every connection open is reset, and each new one is reset
  as soon as it is accepted.
- ``hang``: a server (or network) that stops answering: new connections are accepted and
  nothing is forwarded either way; what is sent meanwhile is dropped, so when the hang ends
  the connections it held are reset.

Besides its mode, the proxy can lose one answer (``lose_answer``): the server does what it was
asked, and the client never hears of it — a cut between a commit and its acknowledgement.

The proxy runs its own event loop on a thread, so a synchronous test drives it with plain
calls: ``proxy = TcpProxy(port); proxy.start(); proxy.set_mode("hang") …; proxy.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Literal

Mode = Literal["pass", "refuse", "reset", "hang"]
MODES: tuple[Mode, ...] = ("pass", "refuse", "reset", "hang")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN (SO_LINGER 0), as a crashed peer would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One client connection and its upstream one."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.hung = False  # it dropped data during a hang: reset when the hang ends
        self.primed = False  # it sent the marker of the answer to lose
        self.tail = b""  # the last bytes it sent, for a marker cut between two reads
        self.swallowing = False  # the server's next answer is lost, the link reset

    def reset(self) -> None:
        for task in self.tasks:
            task.cancel()
        _reset(self.client)
        if self.upstream is not None:
            _reset(self.upstream)


class TcpProxy:
    """Listens on ``127.0.0.1:port`` (0: a free one, then ``port``) and forwards to
    ``target_host:target_port`` — or fails as its mode says (see the module's doc)."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1", port: int = 0):
        self.target = (target_host, target_port)
        self.port = port
        self.mode: Mode = "pass"
        self.accepted = 0
        self.answers_lost = 0
        self._lose: tuple[bytes, bytes] | None = None
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )

    # -- control (from any thread) ----------------------------------------------------------

    def start(self) -> TcpProxy:
        """Start forwarding; returns the proxy (its ``port`` set)."""
        self._thread.start()
        self._run(self._listen())
        return self

    def set_mode(self, mode: Mode) -> None:
        """Switch to ``mode`` (one of ``MODES``) now."""
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self._run(self._switch(mode))

    def lose_answer(self, statement: bytes, *, after: bytes) -> None:
        """Once: on the first connection whose client sends ``after`` and then
        ``statement``, forward the statement, drop the server's answer to it and reset the
        connection (``answers_lost`` counts it). With ``after=b"INSERT INTO attempts"`` and
        ``statement=b"COMMIT"``, a claim commits and its daemon is told it failed."""
        self._lose = (after, statement)

    def close(self) -> None:
        """Stop listening, reset every connection and end the proxy's thread."""
        if not self._thread.is_alive():
            return
        self._run(self._shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._links)

    def _run(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    # -- on the proxy's loop --------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _switch(self, mode: Mode) -> None:
        previous, self.mode = self.mode, mode
        if mode in ("refuse", "reset"):
            self._reset_all()
        if previous == "hang" and mode != "hang":
            for link in [link for link in self._links if link.hung]:
                link.reset()
                self._links.discard(link)
        if mode == "hang":
            for link in self._links:
                link.hung = True
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        elif mode != "refuse" and self._server is None:
            await self._listen()

    async def _shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._reset_all()

    def _reset_all(self) -> None:
        for link in list(self._links):
            link.reset()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode in ("reset", "refuse"):
            _reset(writer)
            return
        link = _Link(writer)
        self._links.add(link)
        if self.mode == "hang":
            link.hung = True
            link.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
            with contextlib.suppress(Exception, asyncio.CancelledError):
                while await reader.read(65536):
                    pass  # blackholed
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            self._links.discard(link)
            return
        link.upstream = up_writer
        link.tasks = [
            asyncio.ensure_future(self._pipe(reader, up_writer, link, upward=True)),
            asyncio.ensure_future(self._pipe(up_reader, writer, link, upward=False)),
        ]

    def _watch_for_answer_to_lose(self, link: _Link, data: bytes) -> None:
        assert self._lose is not None
        after, statement = self._lose
        seen = link.tail + data
        if not link.primed:
            at = seen.find(after)
            if at < 0:
                link.tail = seen[-len(after) :]
                return
            link.primed, seen = True, seen[at + len(after) :]
        if statement in seen:
            self._lose = None  # once
            link.swallowing = True  # before the statement is forwarded: its answer is lost
        link.tail = seen[-len(statement) :]

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        upward: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self.mode == "hang":
                    link.hung = True
                    continue  # blackholed: dropped, never forwarded
                if upward and self._lose is not None:
                    self._watch_for_answer_to_lose(link, data)
                elif not upward and link.swallowing:
                    self.answers_lost += 1
                    link.reset()
                    self._links.discard(link)
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if link in self._links and not link.hung:
                self._links.discard(link)
                for task in link.tasks:
                    if task is not asyncio.current_task():
                        task.cancel()
                with contextlib.suppress(Exception):
                    link.client.close()
                    if link.upstream is not None:
                        link.upstream.close()
