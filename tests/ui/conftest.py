"""The daemon's HTTP app (console included) on its own server on a free loopback port, over
the open example deployment (real SQLite file) with the API's test tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import HttpServer, build_app
from tests.api.conftest import TOKENS, with_tokens  # noqa: F401  (a fixture)
from tests.conftest import Deployment


def token(name: str) -> str:
    return TOKENS[name][1]


@dataclass
class Served:
    daemon: Daemon
    dep: Deployment
    base: str


@pytest.fixture
async def served(with_tokens: Deployment) -> AsyncIterator[Served]:  # noqa: F811
    daemon = Daemon(with_tokens.config)
    server = HttpServer(
        build_app(daemon.metrics, daemon.ready, daemon.core_access()), "127.0.0.1:0"
    )
    await server.start()
    try:
        yield Served(daemon, with_tokens, f"http://127.0.0.1:{server.port}")
    finally:
        await server.stop()
        daemon.store_thread.shutdown()
        daemon.store_reader.shutdown()
        daemon.store.close()


async def login(session: aiohttp.ClientSession, base: str, name: str) -> aiohttp.ClientResponse:
    """Log ``session`` in with the test token ``name`` through the login form."""
    async with session.get(f"{base}/ui/login") as page:
        csrf = csrf_of(await page.text())
    response = await session.post(
        f"{base}/ui/login", data={"csrf": csrf, "token": token(name)}, allow_redirects=False
    )
    return response


def csrf_of(text: str) -> str:
    return text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def jar() -> Any:
    # The console's cookies are for /ui/ on 127.0.0.1: an unsafe jar keeps IP-host cookies.
    return aiohttp.CookieJar(unsafe=True)
