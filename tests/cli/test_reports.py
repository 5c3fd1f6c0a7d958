"""``status --json`` and ``explain --json``: the same facts as the tables, as one JSON object,
personal data masked; and what the daemon says of itself when there is none to ask."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dispatcher.cli import main
from tests.conftest import Deployment, seed


def _json(dep: Deployment, *args: str) -> dict:
    result = CliRunner().invoke(main, ["--config", str(dep.config), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_json_counts_the_queue_and_says_the_daemon_was_not_asked(
    open_deployment: Deployment,
) -> None:
    seed(open_deployment, 3)
    status = _json(open_deployment, "status", "--json")
    assert status["reminders"] == [{"state": "pending", "channel": "sms", "count": 3}]
    assert status["due_now"] == 3 and status["next_due"] is not None
    assert status["unknown"] == {"total": 0, "by_channel": {}, "oldest": []}
    # The test deployment listens on port 0: nobody to ask.
    assert status["daemon"]["asked"] is False and "port" in status["daemon"]["reason"]


def test_status_json_masks_the_contacts_of_unknown_attempts(open_deployment: Deployment) -> None:
    from tests.unknown_attempts import make_unknown

    store = open_deployment.store()
    make_unknown(store, 1, contact="+8613800138000")
    store.close()
    status = _json(open_deployment, "status", "--json")
    [oldest] = status["unknown"]["oldest"]
    assert status["unknown"]["total"] == 1
    assert oldest["contact"].startswith("+") and "*" in oldest["contact"]
    assert "+8613800138000" not in json.dumps(status)


def test_explain_json_is_the_case_its_masked_person_reminders_and_history(
    open_deployment: Deployment,
) -> None:
    seed(open_deployment, 1)
    CliRunner().invoke(main, ["--config", str(open_deployment.config), "event", "C0", "dispute"])
    detail = _json(open_deployment, "explain", "C0", "--json")
    assert detail["case"]["id"] == "C0" and detail["case"]["state"] == "disputed"
    assert detail["person"]["masked"] is True and detail["person"]["name"] == "P. 0."
    assert [r["channel"] for r in detail["reminders"]] == ["sms"]
    assert any(entry["what"] == "event dispute" for entry in detail["history"])
    assert detail["focus"] is None and detail["notes"][0].startswith("policy: preset none")
    by_reminder = _json(open_deployment, "explain", str(detail["reminders"][0]["id"]), "--json")
    assert by_reminder["focus"] == detail["reminders"][0]["id"]
