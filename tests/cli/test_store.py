"""``migrate --json``: each table's counts and checksums as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dispatcher.cli import main
from tests.conftest import Deployment, seed


def test_migrate_as_json(open_deployment: Deployment, pg_url: str) -> None:
    seed(open_deployment, 4)
    result = CliRunner().invoke(
        main, ["migrate", "--from", open_deployment.url, "--to", pg_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["ok"] is True
    tables = {table["table"]: table for table in body["tables"]}
    assert tables["reminders"]["source_rows"] == tables["reminders"]["target_rows"] == 4
    assert all(t["source_checksum"] == t["target_checksum"] for t in tables.values())


def test_migrate_to_a_store_that_is_not_empty_is_exit_2(
    open_deployment: Deployment, pg_url: str, tmp_path: Path
) -> None:
    seed(open_deployment, 1)
    runner = CliRunner()
    assert (
        runner.invoke(main, ["migrate", "--from", open_deployment.url, "--to", pg_url]).exit_code
        == 0
    )
    again = runner.invoke(main, ["migrate", "--from", open_deployment.url, "--to", pg_url])
    assert again.exit_code == 2 and "not empty" in again.output
