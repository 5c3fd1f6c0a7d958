"""The daemon keeps PostgreSQL's statistics up with writes made behind its back (here the
store's API, as a batch intake writes): a table with rows never analysed is analysed soon
after the start, while the daemon runs."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.store import open_store
from tests.cli.test_import_statistics import _analysed_at
from tests.conftest import Deployment, stop, wait_for
from tests.store.test_store import NOW, _people


def _analysed(url: str, table: str) -> bool:
    return _analysed_at(url, table) is not None


def test_the_daemon_analyses_tables_written_behind_its_back(
    open_deployment: Deployment, pg_url: str
) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{pg_url}"')
    store = open_store(pg_url)
    try:
        _people(store, 20, due=NOW + timedelta(days=3650))  # nothing to send meanwhile
    finally:
        store.close()
    assert not _analysed(pg_url, "reminders")
    daemon = dep.start()
    try:
        wait_for(lambda: _analysed(pg_url, "reminders") and _analysed(pg_url, "people"), 60)
    finally:
        output = stop(daemon)
    assert "store statistics refreshed" in output, output[-2000:]
    assert "Traceback" not in output
