"""Requests no well-behaved client sends, through a real loopback server: each gets a 4xx
problem (never a 500), changes nothing, and the API keeps answering. A client that leaves
mid-body is no error of ours."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import TOKENS, Api
from tests.api.raw_http import raw_request
from tests.api.test_routes import ANA

WRITER = TOKENS["writer"][1].encode()


def _address(api: Api) -> tuple[str, int]:
    server = api.client.server
    return str(server.host), int(server.port)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer \xff\xfe", b"Bearer " + WRITER + b"\xc3", b"\xff", b"Bearer \xed\xa0\x80"],
)
async def test_a_non_utf8_authorization_header_is_a_401(api: Api, authorization: bytes) -> None:
    answer = await raw_request(
        *_address(api), b"GET /v1/reminders HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization
    )
    assert answer.status == 401, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_non_utf8_idempotency_key_is_a_422(api: Api) -> None:
    body = json.dumps({"rows": [{"person_id": "P1"}]}).encode()
    answer = await raw_request(
        *_address(api),
        b"POST /v1/cases:batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + WRITER + b"\r\nIdempotency-Key: k\xff\xfe",
        body,
    )
    assert answer.status == 422, answer.body
    assert answer.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
async def test_deeply_nested_json_is_a_400(api: Api, depth: int) -> None:
    nested = '{"rows": [' + "[" * depth + "]" * depth + "]}"
    status, body = await api.call(
        "POST", "/v1/cases:batch", data=nested, headers={"Content-Type": "application/json"}
    )
    assert (status, body["title"]) == (400, "Bad request"), body
    assert (await api.call("GET", "/v1/reminders", token="reader"))[0] == 200


async def test_a_body_over_the_limit_is_a_413_even_without_content_length(api: Api) -> None:
    limit = api.daemon.runtime.config.dispatcher.api.max_body

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    status, body = await api.call("PUT", "/v1/people/P-big", data=chunks())
    assert (status, body["title"]) == (413, "Payload too large")


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%00", "%0A%0A", "%09"])
async def test_an_id_with_a_final_control_character_is_refused_and_nothing_written(
    api: Api, suffix: str
) -> None:
    status, body = await api.call("PUT", f"/v1/people/P-NL{suffix}", json=ANA)
    assert status == 422, body
    assert body["errors"][0]["field"] == "person_id"
    assert api.dep.store().get_person("P-NL\n") is None
    assert api.dep.store().get_person("P-NL") is None
