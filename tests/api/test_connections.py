"""The daemon's HTTP server with clients that misbehave: one that leaves mid-body is no error
of ours; one that sends its head or body too slowly is cut off; a flood of idle connections
past the cap closes the oldest idle ones, so a new request is still answered."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import subprocess
import threading
from typing import Any

import aiohttp
import pytest

from dispatcher.api import cases
from dispatcher.daemon.connections import connection_cap
from tests.api.conftest import bearer, served
from tests.api.raw_http import raw_request
from tests.conftest import DISPATCHER, Deployment, free_port, http_get, stop, wait_for

ROUTE = "/v1/people/{person_id}"


def _head(person_id: str, length: int) -> bytes:
    return (
        f"PUT /v1/people/{person_id} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {bearer('writer')['Authorization']}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _until(done, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3000):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_a_client_leaving_mid_body_is_logged_at_debug_and_not_counted_as_500(
    with_tokens: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dispatcher")
    async with served(with_tokens) as (daemon, server):
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(_head("P-gone", 5000) + b'{"name": "A')
        await writer.drain()
        counter = daemon.metrics.api_requests
        await _until(lambda: server.guard.busy == 1, "the request under way")
        writer.transport.abort()  # the client leaves, mid-body
        await _until(lambda: "http client disconnected" in caplog.text, "the disconnect logged")
        assert counter.labels(ROUTE, "PUT", "499")._value.get() == 1
        assert counter.labels(ROUTE, "PUT", "500")._value.get() == 0
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors
        assert daemon.store.get_person("P-gone") is None


async def test_a_head_sent_too_slowly_is_cut_off(with_tokens: Deployment) -> None:
    async with served(with_tokens, header_timeout=0.5) as (_, server):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 30) == b"", "closed without an answer"
        idle_reader, _ = await asyncio.open_connection(server.host, server.port)
        assert await asyncio.wait_for(idle_reader.read(), 30) == b"", "an idle one too"
        answer = await raw_request(server.host, server.port, b"GET /healthz HTTP/1.1\r\nHost: x")
        assert answer.status == 200


async def test_a_body_sent_too_slowly_is_a_408(
    with_tokens: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dispatcher.api.endpoint.BODY_TIMEOUT", 0.5)
    async with served(with_tokens) as (daemon, server):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(_head("P-slow", 5000) + b'{"name": "A')
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"application/problem+json" in answer
        assert daemon.store.get_person("P-slow") is None


async def test_idle_connections_past_the_cap_make_room_for_a_request(
    with_tokens: Deployment,
) -> None:
    async with served(with_tokens, max_connections=50) as (_, server):
        idle = [await asyncio.open_connection(server.host, server.port) for _ in range(300)]
        busy_reader, busy = await asyncio.open_connection(server.host, server.port)
        busy.write(_head("P-busy", 100) + b"{")  # a request under way: not closed for room
        await busy.drain()
        answer = await raw_request(server.host, server.port, b"GET /healthz HTTP/1.1\r\nHost: x")
        assert answer.status == 200
        closed = [await asyncio.wait_for(r.read(), 30) == b"" for r, _ in idle[:200]]
        assert all(closed), "the oldest idle connections were closed"
        busy.write(b"}" + b" " * 98)
        await busy.drain()
        assert (await asyncio.wait_for(busy_reader.readline(), 30)).startswith(b"HTTP/1.1 422")
        for _, writer in idle:
            writer.close()


@pytest.mark.slow
def test_1500_idle_connections_leave_the_real_daemon_answering(with_tokens: Deployment) -> None:
    """The daemon under a file limit of 512 (the cap is then 256 connections): 1,500 idle
    connections, and /healthz and /readyz still answer."""
    dep = with_tokens
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2000 <= hard or hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))  # this process holds 1,500
    process = subprocess.Popen(
        [str(DISPATCHER), "--config", str(dep.config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=dep.root,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512)),
    )
    idle: list[socket.socket] = []
    try:
        wait_for(lambda: process.poll() is not None or http_get(port, "/healthz")[0] == 200)
        for _ in range(1500):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        assert http_get(port, "/healthz")[0] == 200
        assert http_get(port, "/readyz")[0] == 200
    finally:
        for sock in idle:
            sock.close()
        output = stop(process)
    assert process.returncode == 0, output
    assert "http connections at the cap" in output
    assert "level=error" not in output, output


async def test_healthz_answers_while_a_maximal_batch_is_checked(
    with_tokens: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's first row waits until /healthz has answered: with the rows checked on the
    event loop it would wait for ever (and fail); off it, both answer, every row kept, and a
    replay of its Idempotency-Key gets the same answer."""
    healthz_answered = threading.Event()
    real_parse_row = cases.parse_row

    def parse_row(index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 0:
            assert healthz_answered.wait(30), "/healthz was not answered during the batch"
        return real_parse_row(index, *args, **kwargs)

    monkeypatch.setattr(cases, "parse_row", parse_row)
    rows = [
        {
            "person_id": f"P{i}",
            "name": "Bo Chen",
            "phone": f"+86138{i:08d}",
            "case_id": f"C{i}",
            "amount": "10",
            "currency": "CNY",
            "due_date": "2026-02-01",
            "schedule": "standard",
        }
        for i in range(5000)
    ]
    async with served(with_tokens) as (_, server), aiohttp.ClientSession() as session:
        base = f"http://{server.host}:{server.port}"
        headers = {**bearer("writer"), "Idempotency-Key": "batch-1"}
        batch = asyncio.create_task(
            session.post(f"{base}/v1/cases:batch", json={"rows": rows}, headers=headers)
        )
        await _until(lambda: server.guard.busy == 1, "the batch under way")
        async with session.get(f"{base}/healthz") as health:
            assert health.status == 200
        assert not batch.done()
        healthz_answered.set()
        response = await batch
        first = await response.json()
        assert response.status == 200, first
        assert (first["accepted"], first["rejected"]) == (5000, 0)
        assert [r["index"] for r in first["rows"]] == list(range(5000))
        async with session.post(
            f"{base}/v1/cases:batch", json={"rows": rows}, headers=headers
        ) as replay:
            assert replay.headers["Idempotency-Replayed"] == "true"
            assert await replay.json() == first


@pytest.mark.parametrize(
    ("file_limit", "cap"), [(65536, 49152), (1024, 768), (512, 256), (300, 44), (40, 16)]
)
def test_the_cap_keeps_a_quarter_of_the_files_and_256_for_the_rest(
    file_limit: int, cap: int
) -> None:
    assert connection_cap(file_limit) == cap
