"""The plugin author's kit: a contract suite every channel must pass, and a loopback HTTP
server to test a channel against.

Installed with dispatcher as a pytest plugin (entry point ``pytest11``), so the fixtures below
are there in any test run; the suite is a base class to subclass::

    from dispatcher.testing import ChannelContract, Failure, HttpPeer, Reply

    class TestPagerContract(ChannelContract):
        channel_class = PagerChannel
        entry_point = "pager"
        ...

See docs/plugins.md, "Testing a channel".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dispatcher.testing.contract import ChannelContract
from dispatcher.testing.contract.failure import Failure
from dispatcher.testing.http_peer import HttpPeer, Reply, Request
from dispatcher.testing.samples import PERSON_NAME, personal_data, sample_message
from dispatcher.testing.watch import Peer, deliver

__all__ = [
    "PERSON_NAME",
    "ChannelContract",
    "Failure",
    "HttpPeer",
    "Peer",
    "Reply",
    "Request",
    "deliver",
    "http_peer",
    "personal_data",
    "sample_message",
]


@pytest.fixture
def http_peer() -> Iterator[HttpPeer]:
    """A loopback HTTP server answering 200 ``{}``; closed after the test."""
    with HttpPeer() as peer:
        yield peer
