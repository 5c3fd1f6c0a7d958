"""After an import that changed a table by more than its staleness bound, PostgreSQL's
statistics see what it loaded (claims after a big import are planned for the rows there, not
for empty tables); a smaller import leaves them as they were."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.store import open_store
from tests.conftest import Deployment


def _analysed_at(url: str, table: str) -> object:
    store = open_store(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables "
                f"WHERE schemaname = current_schema() AND relname = '{table}'"
            ).scalar()
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


def test_an_import_refreshes_the_statistics_its_rows_outran(
    open_deployment: Deployment, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{pg_url}"')
    monkeypatch.setattr("dispatcher.store.postgres.STALE_ROWS", 50)
    _import(dep, 0, 4)  # into tables never analysed
    first = _analysed_at(pg_url, "people")
    assert first is not None and _analysed_at(pg_url, "cases") is not None
    _import(dep, 4, 3)  # 3 rows more: under the bound
    assert _analysed_at(pg_url, "people") == first
