"""PostgreSQL hanging for 30 s under one daemon: as the 5 s outages."""

from __future__ import annotations

import pytest

from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment
from tests.faults.outages import assert_survived, postgresql_fault


@pytest.mark.parametrize(
    ("mode", "seconds", "nodes"),
    [
        ("hang", 30, 1),
    ],
)
def test_postgresql_faults_end_no_daemon_and_lose_nothing(
    open_deployment: Deployment, pg_url: str, proxy: TcpProxy, mode: str, seconds: int, nodes: int
) -> None:
    assert_survived(postgresql_fault(open_deployment, pg_url, proxy, mode, seconds, nodes))
