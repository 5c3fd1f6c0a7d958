"""Bearer tokens: named in ``[api]`` of dispatcher.toml, their values read from secrets
(``${ENV}`` or ``credential:NAME``), each with scopes.

A token whose secret cannot be read is left out (logged once per config version, by name and
reason, never by value) so the daemon still runs; with none usable, the API answers 503 and
says why. Tokens are compared in constant time, every configured token every time, so the
answer's timing tells nothing about which token came close.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from aiohttp import web

from dispatcher.api.problems import ApiProblem
from dispatcher.config import ApiSettings, resolve_secret

log = logging.getLogger("dispatcher.api")


@dataclass(frozen=True)
class Caller:
    """Who made a request: the token's name and what it may do."""

    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        # read:pii is read with personal data shown: it includes read.
        return scope in self.scopes or (scope == "read" and "read:pii" in self.scopes)

    @property
    def sees_personal_data(self) -> bool:
        return "read:pii" in self.scopes


@dataclass(frozen=True)
class _Token:
    name: str
    digest: bytes
    scopes: frozenset[str]


@dataclass(frozen=True)
class TokenBook:
    """The usable tokens of one config, and why the others are not usable."""

    tokens: tuple[_Token, ...]
    unusable: tuple[str, ...]

    def identify(self, presented: str) -> Caller | None:
        return self.identify_digest(token_digest(presented))

    def identify_digest(self, digest: bytes) -> Caller | None:
        """The caller whose token has this SHA-256 ``digest`` (what a console session keeps
        instead of the token), if it is still configured."""
        found: _Token | None = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.digest) and found is None:
                found = token
        return Caller(found.name, found.scopes) if found else None


def token_digest(presented: str) -> bytes:
    # A header's bytes that are not UTF-8 reach us as surrogates: they match no token.
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()


def build_token_book(settings: ApiSettings) -> TokenBook:
    tokens: list[_Token] = []
    unusable: list[str] = []
    for token in settings.tokens:
        try:
            value = resolve_secret(token.secret)
        except ValueError as exc:
            unusable.append(f"token {token.name!r}: {exc}")
            continue
        if not value.strip():
            unusable.append(f"token {token.name!r}: its secret is empty")
            continue
        tokens.append(
            _Token(
                token.name, hashlib.sha256(value.strip().encode()).digest(), frozenset(token.scopes)
            )
        )
    for reason in unusable:
        log.warning("api token not usable", extra={"fields": {"reason": reason}})
    return TokenBook(tuple(tokens), tuple(unusable))


class TokenBooks:
    """Token books by config version: secrets are read once per config, again after a
    reload (a rotated credential takes effect with the reload)."""

    def __init__(self) -> None:
        self._version: str | None = None
        self._book = TokenBook((), ())

    def current(self, version: str, settings: ApiSettings) -> TokenBook:
        if version != self._version:
            self._book = build_token_book(settings)
            self._version = version
        return self._book


def authenticate(request: web.Request, book: TokenBook, scope: str) -> Caller:
    """The caller of ``request``, allowed ``scope``; else a 401, 403 or 503 problem."""
    challenge = {"WWW-Authenticate": 'Bearer realm="dispatcher"'}
    if not book.tokens:
        reasons = "; ".join(book.unusable) or "no [[api.tokens]] in dispatcher.toml"
        raise ApiProblem(503, "API not configured", f"no usable API token ({reasons})")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiProblem(
            401, "Unauthorized", "send Authorization: Bearer <token>", headers=challenge
        )
    caller = book.identify(presented.strip())
    if caller is None:
        raise ApiProblem(401, "Unauthorized", "unknown token", headers=challenge)
    if not caller.may(scope):
        raise ApiProblem(
            403,
            "Forbidden",
            f"token {caller.name!r} lacks scope {scope!r} "
            f"(it has: {', '.join(sorted(caller.scopes)) or 'none'})",
        )
    return caller
