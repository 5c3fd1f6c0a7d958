"""The ``/v1/`` application, mounted in the daemon's HTTP server: routes from
``OPERATIONS``, every error as problem+json, every request counted by route and status."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from dispatcher.api.access import CoreAccess
from dispatcher.api.auth import TokenBooks
from dispatcher.api.endpoint import endpoint
from dispatcher.api.openapi import PREFIX, document
from dispatcher.api.operations import OPERATIONS
from dispatcher.api.problems import ApiProblem

log = logging.getLogger("dispatcher.api")


# What a request is counted as when its client left before the answer (nginx's convention).
CLIENT_GONE = 499


def route_of(request: web.Request) -> str:
    """The route a request matched, as declared (``/email/unsubscribe/{token}``): what logs and
    metrics name, never the path itself, which may carry a token or an id a client made up."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"


def client_gone(request: web.Request) -> web.Response:
    """The answer to a request whose client disconnected: logged at debug (a client's choice,
    not a failure of ours), never sent."""
    log.debug("http client disconnected", extra={"fields": {"route": route_of(request)}})
    return web.Response(status=CLIENT_GONE)


def _problems_and_metrics(core: CoreAccess) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ApiProblem as problem:
            response = problem.response()
        except ConnectionError:
            # The client went away (mostly while sending its body): no one to answer, and
            # no failure of ours.
            response = client_gone(request)
        except web.HTTPException as exc:
            # The router's own answers (unknown path, method not allowed) in the same form.
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
            response = ApiProblem(exc.status, exc.reason, exc.reason, headers=headers).response()
        except Exception as exc:
            # The exception's text may quote personal data from the request: not logged.
            log.error(
                "api request failed",
                extra={"fields": {"route": route_of(request), "error": type(exc).__name__}},
            )
            response = ApiProblem(500, "Internal error", "see the daemon's log").response()
        core.metrics.api_requests.labels(
            route_of(request), request.method, str(response.status)
        ).inc()
        return response

    return middleware


def build_api(core: CoreAccess, books: TokenBooks | None = None) -> web.Application:
    """The API as an application to mount at ``/v1``; ``books`` are its tokens, when the
    daemon's other routes share them."""
    app = web.Application(middlewares=[_problems_and_metrics(core)])
    books = books or TokenBooks()
    spec = document()

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec)

    for operation in OPERATIONS:
        app.router.add_route(operation.method, operation.path, endpoint(operation, core, books))
    app.router.add_get("/openapi.json", openapi)
    return app


def mount_api(app: web.Application, core: CoreAccess, books: TokenBooks | None = None) -> None:
    app.add_subapp(PREFIX, build_api(core, books))
