"""``check --json``: the verdict and every problem as one JSON object, the exit code as
without it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dispatcher.cli import main
from tests.conftest import Deployment


def _check(dep: Deployment) -> tuple[int, dict]:
    result = CliRunner().invoke(
        main, ["--config", str(dep.config), "check", "--no-secrets", "--json"]
    )
    return result.exit_code, json.loads(result.output)


def test_a_good_config_as_json(open_deployment: Deployment) -> None:
    from dispatcher.runtime.versions import config_version

    code, body = _check(open_deployment)
    assert code == 0, body
    assert body["ok"] is True and body["problems"] == []
    assert body["version"] == config_version(open_deployment.config)
    assert {"sms", "voice", "email", "letter"} <= set(body["channels"])
    assert body["schedules"] and all(steps > 0 for steps in body["schedules"].values())
    assert body["store"] == ["store: not created yet, nothing planned to compare with"]


def test_a_bad_config_as_json_lists_every_problem_and_exits_1(
    open_deployment: Deployment,
) -> None:
    open_deployment.set("policy.toml", r'^jitter = ".*"$', 'jitter = "whenever"')
    open_deployment.set("dispatcher.toml", r"^batch_size = \d+", 'batch_size = "many"')
    code, body = _check(open_deployment)
    assert code == 1
    assert body["ok"] is False and len(body["problems"]) == 2
    assert {p.split(":", 1)[0] for p in body["problems"]} == {"policy.toml", "dispatcher.toml"}
