"""Generated HTTP requests (hypothesis strategies) for the daemon's routes, and the daemon
served on a thread of its own so synchronous hypothesis tests can call it over loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import HttpServer, build_app
from dispatcher.testing.twilio_peer import ACCOUNT_SID

FIELDS = [
    "name", "locale", "timezone", "phones", "emails", "addresses", "person_id", "amount",
    "currency", "due_date", "schedule", "rows", "kind", "until", "note", "channel", "contact",
    "phone", "email", "address", "case_id", "state", "Body", "From", "AccountSid",
    "MessageStatus", "CallStatus", "ErrorCode", "AnsweredBy", "MessageSid",
]  # fmt: skip
# Header bytes the HTTP parser lets through (no controls): ASCII and any high byte.
HEADER_BYTE = st.one_of(st.integers(0x20, 0x7E), st.integers(0x80, 0xFF))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=40), st.sampled_from(
        ["America", "Etc", "UTC", "+14155550123", "2026-01-15", "1e999999", "standard",
         "P-1\n", "paid", "plan", "opt-out", "en", "zh-CN", "0", "-1", "9" * 30, "\x00"]
    ),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=20,
)
IDS = st.one_of(
    st.sampled_from(["C0", "P0", "C-1", "P-NL\n", "a" * 129, "..", "%", "x/y"]),
    st.text(min_size=1, max_size=20),
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, bytes], ...]
    body: bytes

    def bytes(self) -> bytes:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        lines = b"".join(k.encode() + b": " + v + b"\r\n" for k, v in self.headers)
        length = f"Content-Length: {len(self.body)}\r\n".encode()
        return head.encode() + lines + length + b"\r\n" + self.body


def _path(template: str, ident: str) -> str:
    return template.replace("{id}", quote(ident, safe=""))


# Each route with its method (and now and then another method). Not /readyz: its 503 (this
# daemon runs no dispatch loop) is its documented answer.
ROUTES = [
    ("PUT", "/v1/people/{id}"), ("PUT", "/v1/cases/{id}"), ("POST", "/v1/cases:batch"),
    ("POST", "/v1/cases/{id}/events"), ("GET", "/v1/cases/{id}"), ("GET", "/v1/reminders"),
    ("GET", "/v1/reminders?state={id}&limit=5"), ("GET", "/v1/reminders?after={id}"),
    ("GET", "/v1/openapi.json"), ("GET", "/v1/{id}"), ("POST", "/twilio/inbound"),
    ("POST", "/twilio/status?channel={id}"), ("POST", "/twilio/inbound?channel=sms"),
    ("POST", "/twilio/status?channel=voice&event=amd&attempt={id}"), ("GET", "/healthz"),
    ("GET", "/metrics"), ("POST", "/{id}"), ("GET", "/email/unsubscribe/{id}"),
    ("POST", "/email/unsubscribe/{id}"),
]  # fmt: skip
METHODS = st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"])
TARGETS = st.builds(
    lambda route, other, ident: (other or route[0], _path(route[1], ident)),
    st.sampled_from(ROUTES),
    st.one_of(st.none(), st.none(), st.none(), METHODS),
    IDS,
)
BODIES = st.one_of(
    st.builds(lambda v: json.dumps(v).encode(), JSON),
    st.builds(lambda v: json.dumps({"rows": v}).encode(), st.lists(JSON, max_size=5)),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(0, 3000)),
    st.builds(
        lambda form: "&".join(f"{quote(k)}={quote(v)}" for k, v in form.items()).encode(),
        st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=20), max_size=6),
    ),
    st.just(f"AccountSid={ACCOUNT_SID}&From=%2B8613800000000&Body=STOP".encode()),
    st.binary(max_size=200),
)
CONTENT_TYPES = st.sampled_from(
    [b"application/json", b"application/x-www-form-urlencoded", b"multipart/form-data",
     b"multipart/form-data; boundary=x", b"text/plain", b"application/json; charset=latin-1"]
)  # fmt: skip
RAW_HEADER = st.lists(HEADER_BYTE, max_size=40).map(bytes)


def requests(token: bytes | None) -> st.SearchStrategy[Request]:
    """Requests with ``token`` as bearer (None: unauthenticated, or a garbage one)."""
    authorization = (
        st.one_of(st.none(), RAW_HEADER.map(lambda b: b"Bearer " + b), RAW_HEADER)
        if token is None
        else st.just(b"Bearer " + token)
    )
    optional = st.one_of(st.none(), RAW_HEADER)
    return st.builds(
        lambda target, auth, kind, key, signature, body: Request(
            *target,
            tuple(
                (name, value)
                for name, value in (
                    ("Authorization", auth),
                    ("Content-Type", kind),
                    ("Idempotency-Key", key),
                    ("X-Twilio-Signature", signature),
                )
                if value is not None
            ),
            body,
        ),
        TARGETS,
        authorization,
        st.one_of(st.none(), CONTENT_TYPES),
        optional,
        optional,
        BODIES,
    )


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def send(port: int, request: Request) -> Answer:
    """One request on its own connection; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.bytes())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return Answer(int(lines[0].split()[1]), headers.get("content-type", ""), body)


@contextmanager
def daemon_on_a_thread(config: Any) -> Iterator[int]:
    """The daemon's HTTP app on its own server and event loop (a thread); yields the port."""
    ready: list[int] = []
    started = threading.Event()
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        daemon = Daemon(config)
        server = HttpServer(
            build_app(daemon.metrics, daemon.ready, daemon.core_access()), "127.0.0.1:0"
        )
        await server.start()
        stop.append(asyncio.Event())
        loop_box.append(asyncio.get_running_loop())
        ready.append(server.port)
        started.set()
        try:
            await stop[0].wait()
        finally:
            await server.stop()
            daemon.store_thread.shutdown()
            daemon.store.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(60), "the server did not start"
    try:
        yield ready[0]
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(30)
