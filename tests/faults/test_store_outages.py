"""Store outages under load, end to end: the daemons keep running through PostgreSQL refusing,
resetting and hanging (through a TCP proxy between them and the server) and through a SQLite
file another writer holds locked; nothing is lost or sent twice, /readyz says 503 with the
reason during the fault and 200 soon after, and the sends resume by themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dispatcher.testing.fault_run import FaultResult, SqliteWriteLock, run_fault
from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment

REMINDERS = 3000


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(5432).start()
    try:
        yield proxy
    finally:
        proxy.close()


def _assert_survived(result: FaultResult) -> None:
    logs = "\n".join(log[-3000:] for log in result.logs)
    assert result.exits == 0, logs
    assert (result.lost, result.duplicates) == (0, 0), logs
    assert result.not_ready_during, (result.reasons, logs)
    assert any(reason.startswith("store unreachable since") for reason in result.reasons)
    assert result.recovery_seconds is not None, logs
    assert result.resumed, logs
    assert all("store reachable again" in log for log in result.logs), logs


@pytest.mark.parametrize(
    ("mode", "seconds", "nodes"),
    [
        ("refuse", 5, 1),
        ("reset", 5, 1),
        ("hang", 5, 1),
        ("reset", 5, 3),
        ("hang", 5, 3),
        ("refuse", 30, 3),
        ("hang", 30, 1),
    ],
)
def test_postgresql_faults_end_no_daemon_and_lose_nothing(
    open_deployment: Deployment, pg_url: str, proxy: TcpProxy, mode: str, seconds: int, nodes: int
) -> None:
    dep = open_deployment
    through_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through_proxy != pg_url
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{through_proxy}"')
    result = run_fault(
        dep.config,
        dep.root,
        dep.outbox,
        pg_url,
        nodes=nodes,
        reminders=REMINDERS,
        seconds=seconds,
        begin=lambda: proxy.set_mode(mode),  # type: ignore[arg-type]
        end=lambda: proxy.set_mode("pass"),
    )
    _assert_survived(result)


def test_a_sqlite_file_locked_by_another_writer_for_30s(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.store().close()  # the file exists before the other writer opens it
    lock = SqliteWriteLock(dep.db)
    result = run_fault(
        dep.config,
        dep.root,
        dep.outbox,
        dep.url,
        nodes=1,
        reminders=REMINDERS,
        seconds=30,
        begin=lock.start,
        end=lock.stop,
    )
    _assert_survived(result)
