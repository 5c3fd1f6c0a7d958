"""PostgreSQL hanging for 30 s under one daemon: as the 5 s outages."""

from __future__ import annotations

from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment
from tests.faults.outages import assert_survived, postgresql_fault


def test_postgresql_hanging_for_30s_under_one_daemon(
    open_deployment: Deployment, pg_url: str, proxy: TcpProxy
) -> None:
    assert_survived(postgresql_fault(open_deployment, pg_url, proxy, "hang", 30, 1))
