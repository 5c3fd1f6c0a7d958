"""One operation as an aiohttp handler: the API switched on, the caller authenticated, the body
read (within its limit) and validated with the query, a POST's ``Idempotency-Key`` honoured,
the handler run, and its answer or problem sent as JSON."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler as WebHandler
from pydantic import BaseModel, ValidationError

from dispatcher.api.access import CoreAccess
from dispatcher.api.auth import Caller, TokenBooks, authenticate
from dispatcher.api.call import Call
from dispatcher.api.operations import Operation
from dispatcher.api.problems import PROBLEM_TYPE, ApiProblem, FieldError, field_errors, invalid

# A client has this long to send its whole body: a slow one must not hold a connection.
BODY_TIMEOUT = 30.0
# Bodies from this size on are parsed and validated on a worker thread.
OFF_LOOP_SIZE = 64 * 1024
# Deeper JSON is refused: no body of the API nests more than a few levels.
MAX_DEPTH = 32


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading it all when
    Content-Length says so) and with 408 when it takes longer than ``BODY_TIMEOUT``."""
    timeout = BODY_TIMEOUT
    too_large = ApiProblem(413, "Payload too large", f"the body may have at most {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise ApiProblem(
            408, "Request timeout", f"the body was not sent within {timeout:g} seconds"
        ) from None
    return b"".join(chunks)


def _validated(model: type[BaseModel] | None, data: Any) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def _parsed_json(raw: bytes) -> Any:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiProblem(400, "Bad request", "the body is not valid JSON") from None
    if _depth(data) > MAX_DEPTH:
        raise ApiProblem(400, "Bad request", f"the body nests deeper than {MAX_DEPTH} levels")
    return data


def _depth(data: Any) -> int:
    """How deep ``data``'s arrays and objects nest (iteratively: no recursion to exhaust)."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                children = value.values() if isinstance(value, dict) else value
                pending.extend((child, level + 1) for child in children)
    return deepest


def _body(model: type[BaseModel], raw: bytes) -> Any:
    return _validated(model, _parsed_json(raw))


def _query(request: web.Request) -> dict[str, str]:
    repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
    if repeated:
        raise invalid([FieldError(k, "given more than once") for k in repeated])
    return dict(request.query)


@dataclass(frozen=True)
class _Reply:
    """An answer as it is sent, and as it is kept for a replay of its Idempotency-Key."""

    status: int
    text: str

    def response(self, **headers: str) -> web.Response:
        kind = PROBLEM_TYPE if self.status >= 400 else "application/json"
        return web.Response(status=self.status, text=self.text, content_type=kind, headers=headers)


def endpoint(operation: Operation, core: CoreAccess, books: TokenBooks) -> WebHandler:
    """The aiohttp handler of ``operation``: authenticate, read and validate, apply
    idempotency (POST), run, answer."""

    async def handle(request: web.Request) -> web.StreamResponse:
        runtime = core.runtime
        settings = runtime.config.dispatcher.api
        if not settings.enabled:
            raise ApiProblem(404, "Not found", "the API is disabled ([api] enabled = false)")
        caller = authenticate(request, books.current(runtime.version, settings), operation.scope)
        raw = await read_body(request, settings.max_body) if operation.body else b""
        key = request.headers.get("Idempotency-Key")

        def run() -> Awaitable[_Reply]:
            return _run(operation, request, core, caller, raw)

        if operation.method != "POST" or key is None:
            return (await run()).response()
        return await _idempotent(core, request, key, raw, caller, run)

    return handle


async def _run(
    operation: Operation, request: web.Request, core: CoreAccess, caller: Caller, raw: bytes
) -> _Reply:
    """Validate the body and query, run the handler; its problem is an answer too (so an
    idempotent replay repeats it)."""
    try:
        body = None
        if operation.body is not None and len(raw) < OFF_LOOP_SIZE:
            body = _body(operation.body, raw)
        elif operation.body is not None:  # a batch: parsed off the event loop meanwhile
            body = await asyncio.to_thread(_body, operation.body, raw)
        query = _validated(operation.query, _query(request)) if operation.query else None
        status, model = await operation.handler(Call(request, core, caller, body, query))
    except ApiProblem as problem:
        return _Reply(problem.status, json.dumps(problem.body(), ensure_ascii=False))
    return _Reply(status, model.model_dump_json())


async def _idempotent(
    core: CoreAccess,
    request: web.Request,
    key: str,
    raw: bytes,
    caller: Caller,
    answer: Callable[[], Awaitable[_Reply]],
) -> web.StreamResponse:
    """Answer a POST once per caller and key: a replay with the same request gets the first
    answer (``Idempotency-Replayed: true``), a different one a 409; a failed answer (5xx or
    an exception) frees the key."""
    if not (1 <= len(key) <= 255 and key.isascii() and key.isprintable()):
        raise invalid([FieldError("Idempotency-Key", "1 to 255 printable ASCII characters")])
    store = core.store
    what = f"{request.method} {request.path}"
    digest = hashlib.sha256(raw).hexdigest()
    now = core.clock()
    ttl = core.runtime.config.dispatcher.api.idempotency_ttl
    first = await core.call(store.idempotency_begin, caller.name, key, what, digest, now, now - ttl)
    if first is not None:
        if first.request != what or first.body_sha256 != digest:
            raise ApiProblem(
                409,
                "Conflict",
                "this Idempotency-Key was used for a different request "
                f"(first: {first.request}); use a new key",
            )
        if first.status is None or first.response is None:
            raise ApiProblem(409, "Conflict", "a request with this Idempotency-Key is running")
        return _Reply(first.status, first.response).response(**{"Idempotency-Replayed": "true"})
    try:
        reply = await answer()
    except BaseException:
        await core.call(store.idempotency_abandon, caller.name, key)
        raise
    if reply.status >= 500:
        await core.call(store.idempotency_abandon, caller.name, key)
    else:
        await core.call(store.idempotency_finish, caller.name, key, reply.status, reply.text)
    return reply.response()
