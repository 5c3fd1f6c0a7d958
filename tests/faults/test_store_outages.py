"""Store outages under load, end to end: the daemons keep running through PostgreSQL refusing,
resetting and hanging for 5 s (through a TCP proxy between them and the server); nothing is
lost or sent twice, /readyz says 503 with the reason during the fault and 200 soon after, and
the sends resume by themselves. (The 30 s outages are in their own files, so that the test
workers can run them side by side.)"""

from __future__ import annotations

import pytest

from dispatcher.testing.tcp_proxy import TcpProxy
from tests.conftest import Deployment
from tests.faults.outages import assert_survived, postgresql_fault


@pytest.mark.parametrize(
    ("mode", "seconds", "nodes"),
    [
        ("refuse", 5, 1),
        ("reset", 5, 1),
        ("hang", 5, 1),
        ("reset", 5, 3),
        ("hang", 5, 3),
    ],
)
def test_postgresql_faults_end_no_daemon_and_lose_nothing(
    open_deployment: Deployment, pg_url: str, proxy: TcpProxy, mode: str, seconds: int, nodes: int
) -> None:
    assert_survived(postgresql_fault(open_deployment, pg_url, proxy, mode, seconds, nodes))
