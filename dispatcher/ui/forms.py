"""What a console handler reads of its request: the form (read once, bounded), and the
caller and session the console's middleware found."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dispatcher.api.auth import Caller
from dispatcher.ui.sessions import Session

MAX_FORM = 16 * 1024  # bytes: the console's forms are a few fields

# What the console's middleware puts on a request for its handlers.
LANG = web.RequestKey("console_lang", str)
CALLER: web.RequestKey[Caller | None] = web.RequestKey("console_caller")
SESSION: web.RequestKey[Session | None] = web.RequestKey("console_session")
FORM = web.RequestKey("console_form", dict[str, Any])


async def read_form(request: web.Request) -> dict[str, Any]:
    """The request's form fields (read once, kept on the request), at most MAX_FORM bytes."""
    if FORM not in request:
        if request.content_length is not None and request.content_length > MAX_FORM:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_FORM, actual_size=request.content_length
            )
        request[FORM] = dict(await request.post())
    return request[FORM]


def caller(request: web.Request) -> Caller:
    """The caller of a page that needs a login (the middleware let it through)."""
    found = request[CALLER]
    assert found is not None
    return found


def session(request: web.Request) -> Session:
    found = request[SESSION]
    assert found is not None
    return found


def language(request: web.Request) -> str:
    return request.get(LANG, "en")
