"""The operator's routes under ``/-/``, as Alertmanager has them: ``POST /-/reload`` (a token
with the ``write`` scope) checks the config directory and swaps it in, answering with the
reload's record — 200 when applied, 409 when refused (the daemon keeps the config it runs);
``GET /-/status`` says what runs: the program and schema versions, the config version, the
last reload. ``dispatcher reload`` and ``dispatcher status`` ask these."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dispatcher.api.auth import TokenBooks, authenticate
from dispatcher.api.problems import ApiProblem
from dispatcher.daemon.reload import ReloadRecord
from dispatcher.runtime import Runtime
from dispatcher.runtime.versions import PROGRAM_VERSION
from dispatcher.store.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class Control:
    """What the ``/-/`` routes may do in the daemon: reload it, read its last reload."""

    reload: Callable[[], Awaitable[ReloadRecord]]
    last_reload: Callable[[], ReloadRecord]


def about(runtime: Runtime, last: ReloadRecord) -> dict[str, Any]:
    """What runs: ``GET /-/status``'s body."""
    return {
        "program": PROGRAM_VERSION,
        "schema": SCHEMA_VERSION,
        "config": runtime.version,
        "channels": list(runtime.channels),
        "plugins": {info.name: info.version for info in runtime.plugins.info},
        "last_reload": last.as_json(),
    }


def mount_control(
    app: web.Application, control: Control, runtime: Callable[[], Runtime], books: TokenBooks
) -> None:
    """Add the ``/-/reload`` and ``/-/status`` routes; tokens are those of the API
    (``[[api.tokens]]``), whether or not the API is enabled."""

    async def reload(request: web.Request) -> web.Response:
        current = runtime()
        try:
            book = books.current(current.version, current.config.dispatcher.api)
            authenticate(request, book, "write")
        except ApiProblem as problem:
            return problem.response()
        # Shielded: a client that hangs up must not cut a reload in half.
        record = await asyncio.shield(control.reload())
        return web.json_response(record.as_json(), status=200 if record.ok else 409)

    async def status(_: web.Request) -> web.Response:
        return web.json_response(about(runtime(), control.last_reload()))

    app.router.add_post("/-/reload", reload)
    app.router.add_get("/-/status", status)
