"""Plugins add HTTP routes through ``register_routes``; handlers see the config in force now
(reload swaps it) and reach the daemon through ``Services``, never the store."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dispatcher import hookimpl
from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.services import Services
from tests.conftest import Deployment, seed


class RoutePlugin:
    @hookimpl
    def register_routes(self, app: web.Application, services: Services) -> None:
        async def state(request: web.Request) -> web.Response:
            case = await services.case(request.match_info["case"])
            return web.json_response(
                {
                    "version": services.config_version,
                    "outbox_channels": [c.name for c in services.channels("outbox")],
                    "case_state": case.state if case else None,
                }
            )

        app.router.add_get("/toy/{case}", state)


async def test_plugin_route_sees_current_config_and_store(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 1)
    daemon = Daemon(dep.config, extra_plugins=[RoutePlugin()])
    app = build_app(daemon.metrics, daemon.ready, daemon.core_access())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        first = await (await client.get("/toy/C0")).json()
        assert first["case_state"] == "open"
        assert first["version"] == daemon.runtime.version
        assert "sms" in first["outbox_channels"]
        assert (await (await client.get("/toy/nope")).json())["case_state"] is None

        dep.set("dispatcher.toml", r"^\[channels\.voice\]$", "[channels.voice]\nenabled = false")
        assert await daemon.reload()
        second = await (await client.get("/toy/C0")).json()
        assert second["version"] != first["version"], "the handler reads the reloaded config"
        assert "voice" not in second["outbox_channels"]
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store.close()
