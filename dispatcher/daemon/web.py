"""The daemon's HTTP server (aiohttp): health, readiness and Prometheus metrics, the ``/v1/``
API (``dispatcher.api``), and the routes plugins add through the ``register_routes`` hook
(webhooks, unsubscribe links).

The server starts before READY=1 so systemd only calls the service ready once it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from dispatcher.api.access import CoreAccess
from dispatcher.api.app import mount_api
from dispatcher.metrics import Metrics
from dispatcher.services import Services

log = logging.getLogger("dispatcher.web")

ReadyCheck = Callable[[], Awaitable[tuple[bool, str]]]


def build_app(
    metrics: Metrics, ready: ReadyCheck, core: CoreAccess | None = None
) -> web.Application:
    """The application: core routes, then each plugin's ``register_routes``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        ok, detail = await ready()
        return web.json_response(
            {"status": "ready" if ok else "not ready", "detail": detail},
            status=200 if ok else 503,
        )

    async def metrics_page(_: web.Request) -> web.Response:
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": metrics.content_type})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    if core is not None:
        mount_api(app, core)
        core.runtime.plugins.manager.hook.register_routes(app=app, services=plugin_services(core))
    return app


class HttpServer:
    """Runs an application on ``host:port`` (port 0 picks a free one, logged)."""

    def __init__(self, app: web.Application, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        log.info("http listening", extra={"fields": {"listen": f"{self.host}:{self.port}"}})

    async def stop(self) -> None:
        await asyncio.wait_for(self._runner.cleanup(), timeout=10)


def plugin_services(core: CoreAccess) -> Services:
    """What plugins' webhooks get of the daemon: the same store thread, config and clock as
    the API's, behind ``Services``' methods."""
    return Services(
        store=core.store,
        call=core.call,
        runtime=lambda: core.runtime,
        clock=core.clock,
        changed=lambda person_id: core.changed(person_id=person_id),
    )
