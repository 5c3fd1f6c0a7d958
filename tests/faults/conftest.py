"""The faults' fixture: a TCP proxy between the daemons and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dispatcher.testing.tcp_proxy import TcpProxy


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(5432).start()
    try:
        yield proxy
    finally:
        proxy.close()
