"""The operator's routes under /-/ on a real loopback server: /-/reload needs a write token and
answers with the reload's record (200 applied, 409 refused, the old config kept); /-/status
says what runs; /-/healthy and /-/ready answer as /healthz and /readyz."""

from __future__ import annotations

from dispatcher.runtime.versions import PROGRAM_VERSION, config_version
from dispatcher.store.schema import SCHEMA_VERSION
from tests.api.conftest import Api


async def test_reload_needs_a_token_with_the_write_scope(api: Api) -> None:
    before = api.daemon.runtime
    status, body = await api.call("POST", "/-/reload", token=None)
    assert status == 401 and "Bearer" in body["detail"]
    status, body = await api.call("POST", "/-/reload", token="reader")
    assert status == 403 and "lacks scope 'write'" in body["detail"]
    status, _ = await api.call("POST", "/-/reload", headers={"Authorization": "Bearer nope"})
    assert status == 401
    assert api.daemon.runtime is before, "no reload without the scope"
    assert api.daemon.last_reload.source == "start"


async def test_a_good_reload_answers_its_record_and_the_new_version(api: Api) -> None:
    api.dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "5m"')
    status, body = await api.call("POST", "/-/reload", token="officer")
    assert status == 200, body
    new = config_version(api.dep.config)
    assert (body["ok"], body["result"], body["source"]) == (True, "success", "http")
    assert body["version"] == new == api.daemon.runtime.version
    assert body["problems"] == []
    assert api.daemon.last_reload.as_json() == body

    status, about = await api.call("GET", "/-/status", token=None)
    assert status == 200
    assert (about["program"], about["schema"], about["config"]) == (
        PROGRAM_VERSION,
        SCHEMA_VERSION,
        new,
    )
    assert about["last_reload"] == body
    assert set(about["plugins"]) >= {"outbox", "email", "sms", "voice", "letter"}


async def test_a_bad_reload_answers_409_with_every_problem_and_keeps_the_config(
    api: Api,
) -> None:
    before = api.daemon.runtime
    api.dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "whenever"')
    api.dep.set("dispatcher.toml", r"^batch_size = \d+", 'batch_size = "many"')
    status, body = await api.call("POST", "/-/reload")
    assert status == 409, body
    assert (body["ok"], body["result"]) == (False, "failure")
    assert body["version"] == before.version, "the version still in force"
    assert api.daemon.runtime is before
    assert len(body["problems"]) == 2
    assert any(p.startswith("policy.toml:") and "jitter" in p for p in body["problems"])
    assert any(p.startswith("dispatcher.toml:") and "batch_size" in p for p in body["problems"])
    assert api.daemon.status.reload_problem == "2 problem(s)"
    metrics = api.daemon.metrics.exposition().decode()
    assert "dispatcher_config_last_reload_success 0.0" in metrics
    assert 'dispatcher_reloads_total{result="failure"} 1.0' in metrics
    assert f'dispatcher_config_info{{version="{before.version}"}} 1.0' in metrics


async def test_alertmanager_style_health_paths_answer_as_the_others(api: Api) -> None:
    for alias, path in (("/-/healthy", "/healthz"), ("/-/ready", "/readyz")):
        first = await api.client.get(alias)
        second = await api.client.get(path)
        assert first.status == second.status
        assert await first.json() == await second.json()
