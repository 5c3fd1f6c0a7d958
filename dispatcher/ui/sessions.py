"""Console sessions: a login exchanges an API token for a random session id, the only thing
the browser's cookie holds. The daemon keeps, per session, the token's SHA-256 digest (never
the token), so every request identifies the caller again from the tokens in force: a token
removed or rotated by a reload ends its sessions at once, and scopes follow the config.

Sessions live in this daemon's memory: a restart logs everyone out, and each node of a
PostgreSQL deployment has its own (a load balancer needs sticky sessions)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

COOKIE = "dispatcher_session"
LOGIN_COOKIE = "dispatcher_login"  # the login form's CSRF value, before any session
LIFETIME = 8 * 3600.0  # seconds a session lasts from its login
MAX_SESSIONS = 1000  # the oldest is dropped past this: a flood of logins cannot grow memory


@dataclass(frozen=True)
class Session:
    id: str
    digest: bytes  # of the token it was opened with
    csrf: str  # the value every form of this session carries
    expires: float  # monotonic

    def form_ok(self, presented: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), presented.encode())


class Sessions:
    """Open sessions by id, oldest first."""

    def __init__(
        self, lifetime: float = LIFETIME, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._open: OrderedDict[str, Session] = OrderedDict()

    def open(self, digest: bytes) -> Session:
        session = Session(
            secrets.token_urlsafe(32),
            digest,
            secrets.token_urlsafe(32),
            self._clock() + self.lifetime,
        )
        self._open[session.id] = session
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        session = self._open.get(session_id or "")
        if session is not None and session.expires <= self._clock():
            del self._open[session.id]
            return None
        return session

    def close(self, session_id: str | None) -> None:
        self._open.pop(session_id or "", None)


def is_https(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, or through a proxy that says so:
    a forged header only makes the cookie stricter)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    name: str,
    value: str,
    max_age: float | None = None,
) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, for /ui/ only."""
    response.set_cookie(
        name,
        value,
        path="/ui/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
        max_age=int(max_age) if max_age is not None else None,
    )


def login_csrf(request: web.Request) -> str:
    """The login form's CSRF value: the browser's pre-login cookie, or a new one."""
    value = request.cookies.get(LOGIN_COOKIE, "")
    return value if len(value) >= 32 else secrets.token_urlsafe(32)


def login_form_ok(request: web.Request, presented: str) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    return len(cookie) >= 32 and hmac.compare_digest(cookie.encode(), presented.encode())
