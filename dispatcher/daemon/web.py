"""The daemon's HTTP server (aiohttp): health, readiness and Prometheus metrics (also as
Alertmanager names them: ``/-/healthy``, ``/-/ready``), the operator's ``/-/reload`` and
``/-/status`` (``control``), the ``/v1/`` API (``dispatcher.api``), the operator console under
``/ui/`` (``dispatcher.ui``), the person's own page under ``/s/``, and the routes plugins
add through the ``register_routes`` hook (webhooks, unsubscribe links).

The server starts before READY=1 so systemd only calls the service ready once it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from dispatcher.api.access import CoreAccess
from dispatcher.api.app import client_gone, mount_api
from dispatcher.api.auth import TokenBooks
from dispatcher.daemon.connections import ConnectionGuard, connection_cap
from dispatcher.daemon.control import Control, mount_control
from dispatcher.metrics import Metrics
from dispatcher.services import Services
from dispatcher.ui.app import mount_console
from dispatcher.ui.self_service import mount_self_service

log = logging.getLogger("dispatcher.web")

ReadyCheck = Callable[[], Awaitable[tuple[bool, str]]]
AliveCheck = Callable[[], str | None]  # why the daemon is not alive (None when it is)

# A client has this long to send a request's headers once connected (or once its previous
# answer was sent, on a kept-alive connection): an idle or trickling one is closed after it.
HEADER_TIMEOUT = 15.0


@web.middleware
async def _disconnects(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A client that left mid-request (webhooks, health) is logged at debug, not as an error."""
    try:
        return await handler(request)
    except ConnectionError:
        return client_gone(request)


def build_app(
    metrics: Metrics,
    ready: ReadyCheck,
    core: CoreAccess | None = None,
    alive: AliveCheck | None = None,
    control: Control | None = None,
) -> web.Application:
    """The application: core routes, then each plugin's ``register_routes``. /healthz says
    whether the dispatch loop itself lives (``alive``), /readyz whether the daemon can do its
    work (``ready``); both answer from state, never from a store call."""

    async def healthz(_: web.Request) -> web.Response:
        problem = alive() if alive is not None else None
        if problem is not None:
            return web.json_response({"status": "not alive", "detail": problem}, status=503)
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

    app = web.Application(client_max_size=1024 * 1024, middlewares=[_disconnects])
    for path in ("/healthz", "/-/healthy"):
        app.router.add_get(path, healthz)
    for path in ("/readyz", "/-/ready"):
        app.router.add_get(path, readyz)
    app.router.add_get("/metrics", metrics_page)
    if core is not None:
        books = TokenBooks()  # one for the API and /-/reload: an unusable token logged once
        mount_api(app, core, books)
        if control is not None:
            mount_control(app, control, lambda: core.runtime, books)
        mount_console(app, core)
        mount_self_service(app, core)
        core.runtime.plugins.manager.hook.register_routes(app=app, services=plugin_services(core))
    return app


class HttpServer:
    """Runs an application on ``host:port`` (port 0 picks a free one, logged), its
    connections capped below the file limit (``connections``) and slow clients timed out."""

    def __init__(
        self,
        app: web.Application,
        listen: str,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int | None = None,
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)
        self.guard = ConnectionGuard(max_connections or connection_cap())
        app.middlewares.append(self.guard.middleware)
        # aiohttp's keep-alive timer runs from the connection's start and after each answer,
        # until a whole request head has arrived: it is the header timeout.
        # At stop, requests under way get a few seconds; then their connections are closed.
        self._runner = web.AppRunner(
            app, access_log=None, keepalive_timeout=header_timeout, shutdown_timeout=5
        )
        self._listener: asyncio.Server | None = None

    async def start(self) -> None:
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        self._listener = await asyncio.get_running_loop().create_server(
            self.guard.factory(server),
            self.host,
            self.port,
            reuse_address=True,
            backlog=self.guard.backlog,
        )
        self.port = int(self._listener.sockets[0].getsockname()[1])
        log.info(
            "http listening",
            extra={
                "fields": {"listen": f"{self.host}:{self.port}", "max_connections": self.guard.cap}
            },
        )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
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
