"""``audit export``: decisions and attempts with policy version and template hash; contact
points masked unless asked for."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from dispatcher.cli import main
from tests.conftest import Deployment, seed


def _export(dep: Deployment, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["--config", str(dep.config), "audit", "export", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_export_has_decisions_attempts_version_and_masks_contacts(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    seed(dep, 2)
    # One dispatch step through the real loop code: claim, decide, reserve.
    from dispatcher.policy import decide
    from dispatcher.runtime import load_runtime

    runtime = load_runtime(dep.config)
    now = datetime.now(UTC)
    store = dep.store()
    store.claim_due(
        now,
        10,
        lambda r, p, c, h: decide(runtime.policy, r, p, c, h, now),
        timedelta(days=7),
        policy_version=runtime.policy_version,
    )
    store.close()
    since = (now - timedelta(days=1)).isoformat()
    until = (now + timedelta(days=1)).isoformat()

    rows = [
        json.loads(line)
        for line in _export(
            dep, "--since", since, "--until", until, "--format", "jsonl"
        ).splitlines()
    ]
    assert {r["record"] for r in rows} == {"decision", "attempt"}
    assert len([r for r in rows if r["record"] == "decision"]) == 2
    versions = {r["policy_version"] for r in rows}
    assert versions == {runtime.policy_version} and len(runtime.policy_version) == 16
    attempt = next(r for r in rows if r["record"] == "attempt")
    assert attempt["template"] == "first_notice" and attempt["template_hash"]
    assert attempt["contact"] != "+8613800000000" and "*" in attempt["contact"]

    unmasked = _export(dep, "--since", since, "--until", until, "--unmasked")
    table = list(csv.DictReader(io.StringIO(unmasked)))
    # A cell beginning with "+" is written with a "'" in front (CSV injection); removing it
    # gives back the stored value.
    assert "'+8613800000000" in {r["contact"] for r in table}
    assert "+8613800000000" in {r["contact"].removeprefix("'") for r in table}
    # The version is the one in force when each decision was taken, not the export's.
    template = dep.config / "templates" / "sms" / "first_notice.en.j2"
    template.write_text(template.read_text() + "\nReply HELP for help.")
    later = [
        json.loads(line)
        for line in _export(
            dep, "--since", since, "--until", until, "--format", "jsonl"
        ).splitlines()
    ]
    assert {r["policy_version"] for r in later} == {runtime.policy_version}
    empty = _export(dep, "--since", "2000-01-01", "--until", "2000-01-02")
    assert empty.splitlines() == [",".join(next(csv.reader(io.StringIO(unmasked))))]


def test_the_policy_version_changes_with_a_template(open_deployment: Deployment) -> None:
    from dispatcher.config import load_config
    from dispatcher.runtime.versions import policy_version

    before = policy_version(load_config(open_deployment.config))
    path = open_deployment.config / "templates/sms/first_notice.en.j2"
    path.write_text(path.read_text() + " ")
    assert policy_version(load_config(open_deployment.config)) != before
