"""An API on a real loopback server over the example deployment (real SQLite file), with
three tokens: a writer, a reader and a reader of personal data."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import HttpServer, build_app
from tests.conftest import (
    EXAMPLE_CONFIG,
    OPEN_ALL_DAY,
    Deployment,
    free_port,
    http_get,
    stop,
    wait_for,
)

TOKENS = {
    "writer": ("API_TEST_WRITER", "w-" + "1" * 30, '["write"]'),
    "reader": ("API_TEST_READER", "r-" + "2" * 30, '["read"]'),
    "officer": ("API_TEST_OFFICER", "o-" + "3" * 30, '["read:pii", "write"]'),
}


def add_tokens(dep: Deployment) -> dict[str, str]:
    """Configure the test tokens in ``dep``; return the environment that holds them."""
    blocks = "".join(
        f'\n[[api.tokens]]\nname = "{name}"\nsecret = "${{{env}}}"\nscopes = {scopes}\n'
        for name, (env, _, scopes) in TOKENS.items()
    )
    path = dep.config / "dispatcher.toml"
    path.write_text(path.read_text() + blocks)
    return {env: value for env, value, _ in TOKENS.values()}


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


@dataclass
class Api:
    client: TestClient[Any, Any]
    daemon: Daemon
    dep: Deployment

    async def call(
        self, method: str, path: str, token: str | None = "writer", **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        body = await response.json(content_type=None) if await response.read() else None
        return response.status, body


@pytest.fixture
def with_tokens(open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The open example deployment with the test tokens, their secrets in the environment."""
    for env, value in add_tokens(open_deployment).items():
        monkeypatch.setenv(env, value)
    monkeypatch.delenv("DISPATCHER_API_TOKEN", raising=False)
    return open_deployment


@asynccontextmanager
async def served(dep: Deployment, **limits: Any) -> AsyncIterator[tuple[Daemon, HttpServer]]:
    """``dep``'s daemon parts with its HTTP app on the daemon's own server (not aiohttp's test
    server: it cancels a handler whose client leaves, the daemon's does not) on a free loopback
    port; ``limits`` are HttpServer's (header_timeout, max_connections)."""
    daemon = Daemon(dep.config)
    server = HttpServer(
        build_app(daemon.metrics, daemon.ready, daemon.core_access()), "127.0.0.1:0", **limits
    )
    await server.start()
    try:
        yield daemon, server
    finally:
        await server.stop()
        daemon.store_thread.shutdown()
        daemon.store.close()


@pytest.fixture
async def api(with_tokens: Deployment) -> AsyncIterator[Api]:
    """The daemon's whole HTTP app (the API, health, the operator's /-/ routes), not started."""
    open_deployment = with_tokens
    daemon = Daemon(open_deployment.config)
    app = build_app(
        daemon.metrics,
        daemon.ready,
        daemon.core_access(),
        alive=daemon.alive,
        control=daemon.control(),
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Api(client, daemon, open_deployment)
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store.close()


@contextmanager
def running_daemon(
    root: Path, prepare: Callable[[Deployment], None], env: dict[str, str] | None = None
) -> Iterator[str]:
    """The real daemon (a subprocess) on a copy of the example deployment in ``root``, on a
    free loopback port, with the test tokens (and ``env``) in its environment; ``prepare``
    fills the store first. Yields the base URL."""
    shutil.copytree(EXAMPLE_CONFIG, root / "config")
    dep = Deployment(root)
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{dep.url}"')
    dep.set("dispatcher.toml", r'^directory = ".*"$', f'directory = "{dep.outbox}"')
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    dep.write("policy.toml", OPEN_ALL_DAY)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**add_tokens(dep), **(env or {})}.items():
            patch.setenv(name, value)
        Daemon(dep.config).store.close()  # the schema, before the store is filled
        prepare(dep)
        process = dep.start()
        try:
            wait_for(lambda: http_get(port, "/readyz")[0] == 200)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)
