"""A loopback server that speaks the parts of Twilio's REST API the SMS and voice channels use
(creating, listing and fetching ``Messages.json`` and ``Calls.json``, updating a call), for
tests and benchmarks of code on the official twilio client: point the client's API base at
``peer.url``.

It runs aiohttp on an event loop in a thread of its own, so it serves a synchronous test, an
async one and a daemon in a subprocess alike, fast enough to measure a client against. It
checks Basic auth and the required parameters as Twilio does, and answers with Twilio's error
bodies on demand: for one number (``refuse``) or for every request a while (``failing``).
With ``delay`` it holds each Messages/Calls creation answer that long, as Twilio's API takes
time to answer (benchmarks at a realistic provider latency); by default it answers at once.
It needs no twilio package itself; ``sign`` makes a callback's ``X-Twilio-Signature``, and
``call_back`` posts a signed callback as Twilio does, to whichever node a proxy would pass it.
Every message and call it accepted can be listed (filtered by ``To`` and ``From``, newest
first, as Twilio pages them) and fetched by SID; ``remember`` adds one as if it had been
created earlier (what a provider holds of a send whose answer was lost).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-0123456789"


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's request signature: Base64(HMAC-SHA1(token, URL + each param name and value,
    sorted by name))."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Refusal:
    """An error Twilio answers with: HTTP status and Twilio error code."""

    status: int
    code: int
    message: str = "refused by the test peer"

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


UNSUBSCRIBED = Refusal(400, 21610, "Attempt to send to unsubscribed recipient")
INVALID_TO = Refusal(400, 21211, "Invalid 'To' Phone Number")
LANDLINE = Refusal(400, 21614, "'To' number is not a valid mobile number")
TOO_MANY = Refusal(429, 20429, "Too Many Requests")
SERVER_ERROR = Refusal(500, 20500, "Internal Server Error")


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class TwilioPeer:
    """``TwilioPeer()`` serves on ``url`` until ``close``. ``messages``, ``calls`` and
    ``call_updates`` hold the form of every accepted request, in order; ``refused`` counts
    the rest. ``delay`` (seconds) holds every Messages.json and Calls.json answer, accepted or
    refused, that long after the request is read (and recorded); other answers are not held."""

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        port: int = 0,
        delay: float = 0.0,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, not {delay}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delay = delay
        self.messages: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.call_updates: list[tuple[str, dict[str, str]]] = []
        self.refused = 0
        self.received = 0
        # Every resource created, by kind ("Messages", "Calls"), oldest first.
        self.created: dict[str, list[dict[str, Any]]] = {"Messages": [], "Calls": []}
        self.lookups = 0  # list and fetch requests answered
        self._by_number: dict[str, Refusal] = {}
        self._all: Refusal | None = None
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(started, port), name="twilio-peer", daemon=True
        )
        self._thread.start()
        started.wait(10)
        self.port: int = self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> int:
        """Every request that reached the peer, accepted or refused."""
        return self.received

    def refuse(self, number: str, refusal: Refusal) -> None:
        """Answer every request to ``number`` with ``refusal`` from now on."""
        self._by_number[number] = refusal

    @contextlib.contextmanager
    def failing(self, refusal: Refusal) -> Iterator[None]:
        """Answer every request with ``refusal`` until the block ends."""
        self._all = refusal
        try:
            yield
        finally:
            self._all = None

    def call_back(self, callback_url: str, form: Mapping[str, str], node: str) -> int:
        """Post ``form`` to ``callback_url`` as Twilio does (signed for that public URL, with
        this account's sid), delivered to ``node`` (``http://host:port``) the way a proxy in
        front of several nodes passes it to one of them. Returns the answer's status."""
        body = {"AccountSid": self.account_sid, **form}
        parts = urllib.parse.urlsplit(callback_url)
        path_qs = parts.path + (f"?{parts.query}" if parts.query else "")
        request = urllib.request.Request(
            node + path_qs,
            data=urllib.parse.urlencode(body).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(self.auth_token, callback_url, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def remember(
        self, kind: str, to: str, sender: str, created: datetime, **extra: str
    ) -> dict[str, Any]:
        """Hold a resource of ``kind`` (``Messages`` or ``Calls``) to ``to`` from ``sender``
        (a number, or a Messaging Service SID) created at ``created``; returns it."""
        field = "MessagingServiceSid" if sender.startswith("MG") else "From"
        prefix = "SM" if kind == "Messages" else "CA"
        resource = self._resource(prefix, {"To": to, field: sender}, **extra)
        resource["date_created"] = format_datetime(created.astimezone(UTC), usegmt=True)
        self.created[kind].append(resource)
        return resource

    def close(self) -> None:
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> TwilioPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server -----------------------------------------------------------------------

    def _serve(self, started: threading.Event, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._held(self._message))
        app.router.add_post(base + "/Calls.json", self._held(self._call))
        app.router.add_post(base + "/Calls/{sid}.json", self._call_update)
        for kind in self.created:
            app.router.add_get(base + f"/{kind}.json", self._list)
            app.router.add_get(base + f"/{kind}/{{sid}}.json", self._fetch)
        app.router.add_get("/_peer/counts", self._counts)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        self._loop.run_until_complete(site.start())
        self._port = int(self._runner.addresses[0][1])
        started.set()
        self._loop.run_forever()
        self._loop.close()

    def _held(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """``handler`` whose answer waits ``delay`` seconds (the provider's latency)."""

        async def answer(request: web.Request) -> web.Response:
            response = await handler(request)
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            return response

        return answer

    async def _checked(self, request: web.Request) -> dict[str, str] | web.Response:
        """The request's form, or the error Twilio would answer instead."""
        self.received += 1
        if request.match_info["account"] != self.account_sid or not self._authorised(request):
            return self._refusal(Refusal(401, 20003, "Authenticate"))
        form = {key: str(value) for key, value in (await request.post()).items()}
        refusal = self._all or self._by_number.get(form.get("To", ""))
        if refusal is not None:
            return self._refusal(refusal)
        return form

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(header, f"Basic {expected}")

    def _refusal(self, refusal: Refusal) -> web.Response:
        self.refused += 1
        return web.json_response(refusal.body(), status=refusal.status)

    async def _message(self, request: web.Request) -> web.Response:
        form = await self._checked(request)
        if isinstance(form, web.Response):
            return form
        if not form.get("To"):
            return self._refusal(Refusal(400, 21604, "A 'To' phone number is required."))
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._refusal(Refusal(400, 21603, "A 'From' phone number is required."))
        if not form.get("Body"):
            return self._refusal(Refusal(400, 21602, "Message body is required."))
        self.messages.append(form)
        return web.json_response(self._created("Messages", form, body=form["Body"]), status=201)

    async def _call(self, request: web.Request) -> web.Response:
        form = await self._checked(request)
        if isinstance(form, web.Response):
            return form
        if not form.get("To") or not form.get("From"):
            return self._refusal(Refusal(400, 21201, "No 'To' or 'From' number is specified"))
        if not (form.get("Twiml") or form.get("Url")):
            return self._refusal(Refusal(400, 21205, "Url or Twiml parameter is required"))
        self.calls.append(form)
        return web.json_response(self._created("Calls", form), status=201)

    async def _call_update(self, request: web.Request) -> web.Response:
        form = await self._checked(request)
        if isinstance(form, web.Response):
            return form
        sid = request.match_info["sid"]
        self.call_updates.append((sid, form))
        return web.json_response({"sid": sid, "account_sid": self.account_sid}, status=200)

    def _looked_up(self, request: web.Request) -> web.Response | None:
        """The error Twilio answers a list or fetch with, if any. Counted apart from
        ``requests``: a look-up delivers nothing."""
        self.lookups += 1
        if request.match_info["account"] != self.account_sid or not self._authorised(request):
            return self._refusal(Refusal(401, 20003, "Authenticate"))
        if self._all is not None:
            return self._refusal(self._all)
        return None

    async def _list(self, request: web.Request) -> web.Response:
        """A page of the resources matching ``To`` and ``From``, newest first."""
        refused = self._looked_up(request)
        if refused is not None:
            return refused
        kind = request.path.rsplit("/", 1)[1].removesuffix(".json")
        wanted = {k.lower(): v for k, v in request.query.items() if k in ("To", "From")}
        size = min(int(request.query.get("PageSize", "50")), 1000)
        found = [
            r for r in reversed(self.created[kind]) if all(r[k] == v for k, v in wanted.items())
        ]
        uri = request.path_qs
        page = {
            kind.lower(): found[:size],
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": max(min(len(found), size) - 1, 0),
            "uri": uri,
            "first_page_uri": uri,
            "next_page_uri": None,
            "previous_page_uri": None,
        }
        return web.json_response(page)

    async def _fetch(self, request: web.Request) -> web.Response:
        refused = self._looked_up(request)
        if refused is not None:
            return refused
        kind = request.path.rsplit("/", 2)[1]
        for resource in self.created[kind]:
            if resource["sid"] == request.match_info["sid"]:
                return web.json_response(resource)
        return self._refusal(Refusal(404, 20404, "The requested resource was not found"))

    async def _counts(self, request: web.Request) -> web.Response:
        """What a peer in another process has seen (``python -m`` …; benchmarks read it)."""
        counts = {"messages": len(self.messages), "calls": len(self.calls)}
        return web.json_response({**counts, "refused": self.refused})

    def _created(self, kind: str, form: dict[str, str], **extra: str) -> dict[str, Any]:
        resource = self._resource("SM" if kind == "Messages" else "CA", form, **extra)
        self.created[kind].append(resource)
        return resource

    def _resource(self, prefix: str, form: dict[str, str], **extra: str) -> dict[str, Any]:
        return {
            "sid": _sid(prefix),
            "account_sid": self.account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "status": "queued",
            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
            "api_version": "2010-04-01",
            **extra,
        }


def main(argv: list[str] | None = None) -> None:
    """``python -m dispatcher.testing.twilio_peer [PORT] [--delay SECONDS]``: serve until
    SIGTERM or Ctrl-C."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(
        prog="python -m dispatcher.testing.twilio_peer",
        description="A loopback server for the parts of Twilio's REST API the channels use.",
    )
    parser.add_argument("port", nargs="?", type=int, default=0, help="0 (default): any free")
    parser.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hold each Messages/Calls creation answer this long (default 0: at once)",
    )
    args = parser.parse_args(argv)
    if args.delay < 0:
        parser.error("--delay must not be negative")
    peer = TwilioPeer(port=args.port, delay=args.delay)
    print(f"listening {peer.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    peer.close()


if __name__ == "__main__":
    main()
