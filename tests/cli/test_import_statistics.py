"""After an import of ``STATISTICS_AFTER`` rows or more, PostgreSQL's statistics see what it
loaded (claims after a big import are planned for the rows there, not for empty tables); a
smaller import leaves them to autovacuum."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.store import open_store
from tests.conftest import Deployment


def _analysed(url: str, table: str) -> bool:
    store = open_store(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return bool(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() "
                    f"AND tablename = '{table}'"
                ).scalar()
            )
    finally:
        store.close()


def _import(dep: Deployment, first: int, count: int) -> None:
    rows = ["person_id,name,phone,case_id,amount,currency,due_date,schedule"]
    rows += [
        f"P{i},Bo,+86138000{i:05d},C{i},10,CNY,{date.today()},standard"
        for i in range(first, first + count)
    ]
    path = dep.root / f"cases-{first}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(dep.config), "import", str(path)])
    assert result.exit_code == 0, result.output


def test_a_big_import_refreshes_the_statistics(
    open_deployment: Deployment, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{pg_url}"')
    monkeypatch.setattr("dispatcher.cli.intake.STATISTICS_AFTER", 5)
    _import(dep, 0, 4)
    assert not _analysed(pg_url, "people")
    _import(dep, 4, 5)
    assert _analysed(pg_url, "people") and _analysed(pg_url, "cases")
