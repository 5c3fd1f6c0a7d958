"""The built-in outbox channel passes the same contract suite as any outside channel."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dispatcher_plugins.outbox import OutboxChannel

from dispatcher.channel import Channel
from dispatcher.testing import ChannelContract, Failure


class OutboxDirectory:
    """The outbox's peer: the directory it writes to; a delivery is a line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def requests(self) -> int:
        # A symlink is the provoked full disk (reading /dev/full never ends).
        files = [p for p in self.directory.glob("*.jsonl") if not p.is_symlink()]
        return sum(len(path.read_bytes().splitlines()) for path in files)


@contextlib.asynccontextmanager
async def disk_full(channel: Channel) -> AsyncIterator[None]:
    """Reopen the outbox onto /dev/full, where every write fails with ENOSPC."""
    assert isinstance(channel, OutboxChannel)
    await channel.close()
    channel.path.unlink(missing_ok=True)
    channel.path.symlink_to("/dev/full")
    await channel.open()
    yield


async def closed(channel: Channel) -> None:
    await channel.close()


class TestOutboxContract(ChannelContract):
    channel_class = OutboxChannel
    entry_point = "outbox"

    @pytest.fixture
    def peer(self, tmp_path: Path) -> OutboxDirectory:
        return OutboxDirectory(tmp_path / "outbox")

    @pytest.fixture
    def valid_settings(self, peer: OutboxDirectory) -> dict[str, Any]:
        return {"directory": str(peer.directory), "contact": "postal"}

    @pytest.fixture
    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        return [({"contact": "pigeon"}, "contact"), ({"fsync": "sometimes"}, "fsync")]

    @pytest.fixture
    def transient_failures(self) -> list[Failure]:
        return [Failure("disk full", disk_full)]

    @pytest.fixture
    def permanent_failures(self) -> list[Failure]:
        return [Failure("sent after close", closed)]
