"""Bearer tokens: none, unknown, wrong scope, right scope; a token whose secret is missing
leaves the API answering 503 with the reason while the daemon runs."""

from __future__ import annotations

import pytest

from dispatcher.config import ConfigError, load_dispatcher_file
from tests.api.conftest import Api, bearer


async def test_no_token_is_401_with_a_challenge(api: Api) -> None:
    response = await api.client.get("/v1/reminders")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.content_type == "application/problem+json"
    assert "Bearer" in (await response.json())["detail"]


async def test_an_unknown_token_is_401(api: Api) -> None:
    status, body = await api.call(
        "GET", "/v1/reminders", token=None, headers={"Authorization": "Bearer nope"}
    )
    assert (status, body["detail"]) == (401, "unknown token")
    status, _ = await api.call(
        "GET", "/v1/reminders", token=None, headers={"Authorization": "Basic x"}
    )
    assert status == 401


async def test_a_token_without_the_scope_is_403(api: Api) -> None:
    status, body = await api.call("GET", "/v1/reminders", token="writer")
    assert status == 403
    assert "lacks scope 'read'" in body["detail"]
    status, _ = await api.call("POST", "/v1/cases/C0/events", token="reader", json={"kind": "paid"})
    assert status == 403


async def test_the_right_scope_is_let_in(api: Api) -> None:
    assert (await api.call("GET", "/v1/reminders", token="reader"))[0] == 200
    assert (await api.call("GET", "/v1/reminders", token="officer"))[0] == 200, (
        "read:pii includes read"
    )


async def test_without_a_usable_token_the_api_says_why(api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for env in ("API_TEST_WRITER", "API_TEST_READER", "API_TEST_OFFICER"):
        monkeypatch.delenv(env)
    api.dep.set("dispatcher.toml", r"^max_batch = 5000", "max_batch = 4999")
    assert await api.daemon.reload(), "a missing token secret does not make the config bad"
    response = await api.client.get("/v1/reminders", headers=bearer("reader"))
    assert response.status == 503
    detail = (await response.json())["detail"]
    assert "environment variable API_TEST_READER is not set" in detail
    assert "r-222" not in detail
    assert (await api.client.get("/healthz")).status == 200, "the daemon runs on"


def test_a_token_written_into_the_file_is_refused_without_being_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dispatcher.toml").write_text(
        '[api]\n\n[[api.tokens]]\nname = "loans"\nsecret = "s3cret-value"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_dispatcher_file(tmp_path)
    message = str(raised.value)
    assert message.startswith("dispatcher.toml:5: api.tokens[0].secret: must be a reference")
    assert "s3cret-value" not in message
