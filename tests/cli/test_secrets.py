"""Channel secrets are needed only by the commands that send: ``import``, ``simulate``,
``audit export`` and ``check --no-secrets`` run on a host without the credentials; ``check``
and ``run`` report each missing secret once."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Deployment, seed

CSV = (
    "person_id,name,locale,timezone,phone,email,address,case_id,amount,currency,due_date,schedule\n"
    "P1,Pat Doe,en,Europe/London,+442079460104,,,C1,50,GBP,2026-10-01,standard\n"
)
MISSING = "requested but CREDENTIALS_DIRECTORY is not set"


@pytest.fixture
def production(open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The example deployment with its real email channel, whose two secrets are systemd
    credentials, run where no credential is present."""
    open_deployment.enable_commented(
        "email",
        {"password": '"credential:smtp-password"', "unsubscribe_secret": '"credential:unsub"'},
    )
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert "CREDENTIALS_DIRECTORY" not in os.environ
    return open_deployment


def test_import_needs_no_channel_secret(production: Deployment) -> None:
    data = production.root / "people.csv"
    data.write_text(CSV, encoding="utf-8")

    result = production.cli("import", str(data))

    assert result.returncode == 0, result.stderr
    assert "imported 1 row(s); rejected 0" in result.stdout
    assert MISSING not in result.stderr


def test_simulate_and_audit_export_need_no_channel_secret(production: Deployment) -> None:
    seed(production, 2)

    simulated = production.cli("simulate", "--days", "1", "--no-timeline")
    exported = production.cli("audit", "export", "--since", "2026-01-01", "--until", "2036-01-01")

    assert simulated.returncode == 0, simulated.stderr
    assert "simulated" in simulated.stdout
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("record,at,case_id")
    assert MISSING not in simulated.stderr + exported.stderr


def test_check_reports_each_missing_secret_once(production: Deployment) -> None:
    result = production.cli("check")

    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("dispatcher.toml:")]
    keys = [line.split(": ")[1] for line in lines]
    assert keys == ["channels.email.password", "channels.email.unsubscribe_secret"], result.stdout
    assert all(MISSING in line for line in lines)

    without = production.cli("check", "--no-secrets")
    assert without.returncode == 0, without.stdout


def test_run_reports_each_missing_secret_once_and_does_not_start(production: Deployment) -> None:
    result = production.cli("run")

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("dispatcher.toml:")]
    assert len(lines) == 2, result.stderr
    assert len({line.split(": ")[1] for line in lines}) == 2
    assert "Traceback" not in result.stderr
