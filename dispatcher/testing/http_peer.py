"""A real HTTP server on the loopback interface, for testing channels that call an HTTP API.

It runs in a thread of its own, so it answers while the test's event loop waits on the
channel, and its waiting never counts as the channel's. Every request is recorded; replies come
from a ``respond`` function or, for a while, from a script (to provoke failures).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request as the peer received it. ``headers`` are looked up case-insensitively."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the peer answers. ``json`` is sent as the body when given; ``stall`` holds the
    answer back that many seconds (longer than the channel's timeout provokes one)."""

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stall: float = 0.0


class _Headers(dict[str, str]):
    def __init__(self, items: Iterator[tuple[str, str]]) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class HttpPeer:
    """``HttpPeer(respond)`` listens on ``url`` (``http://127.0.0.1:<port>``) until ``close``.

    ``respond(request)`` makes the normal reply (default: 200 with ``{}``). ``received`` lists
    every request; ``requests`` counts them, which is what the contract suite reads. Errors
    raised by ``respond`` are answered with 500 and kept in ``errors``.
    """

    def __init__(self, respond: Callable[[Request], Reply] | None = None) -> None:
        self.respond = respond or (lambda request: Reply(json={}))
        self.received: list[Request] = []
        self.errors: list[BaseException] = []
        self._script: list[Reply | None] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = self._serve(0)
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.received)

    @contextlib.contextmanager
    def replying(self, *replies: Reply | None) -> Iterator[None]:
        """Answer the next requests with ``replies`` in order, the last one repeating, until
        the block ends; ``None`` answers as ``respond`` does (``replying(Reply(503), None)``:
        one failure, then back to normal)."""
        with self._lock:
            self._script = list(replies)
        try:
            yield
        finally:
            with self._lock:
                self._script = []

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Refuse connections (nothing listens on the port) until the block ends."""
        self._stop()
        try:
            yield
        finally:
            self._server = self._serve(self.port)

    def close(self) -> None:
        self._closing.set()
        self._stop()

    def __enter__(self) -> HttpPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server -----------------------------------------------------------------------

    def _serve(self, port: int) -> ThreadingHTTPServer:
        server = _Server(("127.0.0.1", port), _handler(self))
        threading.Thread(
            target=server.serve_forever, args=(0.01,), name="http-peer", daemon=True
        ).start()
        return server

    def _stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply_to(self, request: Request) -> Reply:
        with self._lock:
            self.received.append(request)
            script = self._script
            scripted = script.pop(0) if len(script) > 1 else (script[0] if script else None)
        if scripted is not None:
            return scripted
        try:
            return self.respond(request)
        except Exception as exc:  # a bug in the test's respond: fail the request, keep the error
            self.errors.append(exc)
            return Reply(500, body=f"peer error: {exc!r}".encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) leaves a broken pipe behind; that is expected."""


def _handler(peer: HttpPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, _Headers(iter(self.headers.items())), body)
            reply = peer._reply_to(request)
            if reply.stall and peer._closing.wait(reply.stall):
                return
            payload = json.dumps(reply.json).encode() if reply.json is not None else reply.body
            self.send_response(reply.status)
            headers = {"Content-Length": str(len(payload))}
            if reply.json is not None:
                headers["Content-Type"] = "application/json"
            headers.update(reply.headers)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Requests carry personal data; the test reads ``received`` instead."""

    return Handler
