"""The faults' shared pieces: a TCP proxy between the daemons and PostgreSQL, and what
surviving an outage means."""

from __future__ import annotations

from dispatcher.testing.fault_run import FaultResult, run_fault
from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment

REMINDERS = 3000


def assert_survived(result: FaultResult) -> None:
    logs = "\n".join(log[-3000:] for log in result.logs)
    assert result.exits == 0, logs
    assert (result.lost, result.duplicates) == (0, 0), logs
    assert result.not_ready_during, (result.reasons, logs)
    assert any(reason.startswith("store unreachable since") for reason in result.reasons)
    assert result.recovery_seconds is not None, logs
    assert result.resumed, logs
    assert all("store reachable again" in log for log in result.logs), logs


def postgresql_fault(
    dep: Deployment, pg_url: str, proxy: TcpProxy, mode: str, seconds: int, nodes: int
) -> FaultResult:
    """``nodes`` daemons sending ``REMINDERS`` through ``proxy``, which fails in ``mode`` for
    ``seconds`` in the middle of the run."""
    through_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through_proxy != pg_url
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{through_proxy}"')
    return run_fault(
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
