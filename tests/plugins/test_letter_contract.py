"""The letter channel passes the contract suite with each provider: the spool (a directory) and
Lob (a loopback HTTP server standing in for its API)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dispatcher_plugins.letter import LetterChannel
from dispatcher_plugins.letter.lob import HTTP_SLOTS, SETUP_RETRY_AFTER
from dispatcher_plugins.letter.spool import Spool

from dispatcher.channel import Channel, Message
from dispatcher.model import ContactKind
from dispatcher.testing import ChannelContract, Failure, HttpPeer, Reply
from dispatcher.testing.samples import PERSON_NAME, sample_message

SENDER = {
    "name": "Acme Lending",
    "address_line1": "1 Example Plaza",
    "city": "New York",
    "state": "NY",
    "zip": "10001",
}


def letter_message(kind: ContactKind) -> Message:
    """The sample person's message laid out as a letter: her name first, then the letter."""
    body = (
        f"{PERSON_NAME}\n\nDear {PERSON_NAME},\n\n"
        "the payment of USD 120.00 due on 2026-11-01 is overdue."
    )
    return sample_message(kind, body=body, template="formal_letter")


class SpoolDirectory:
    """The spool's peer: the directory; a delivery is a manifest."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def requests(self) -> int:
        return len(list(self.directory.glob("*.json"))) if self.directory.is_dir() else 0


@contextlib.contextmanager
def spool_is_a_file(channel: Channel) -> Iterator[None]:
    """The spool directory sits under a file (as on a lost mount): every write fails."""
    assert isinstance(channel, LetterChannel)
    working = channel.spool
    blocker = working.directory.parent / "lost-mount"
    blocker.write_text("not a directory")
    channel.spool = Spool(blocker / "letters")
    yield
    channel.spool = working
    blocker.unlink()


async def closed(channel: Channel) -> None:
    await channel.close()


class TestLetterSpoolContract(ChannelContract):
    channel_class = LetterChannel
    entry_point = "letter"

    @pytest.fixture
    def make_message(self) -> Callable[[ContactKind], Message]:
        return letter_message

    @pytest.fixture
    def peer(self, tmp_path: Path) -> SpoolDirectory:
        return SpoolDirectory(tmp_path / "letters")

    @pytest.fixture
    def valid_settings(self, peer: SpoolDirectory) -> dict[str, Any]:
        return {"directory": str(peer.directory), "sender": SENDER}

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "page_size": "A5"}, "page_size"),
            ({**valid_settings, "provider": "carrier-pigeon"}, "provider"),
            ({**valid_settings, "font": "/no/such/font.ttf"}, "font"),
            ({**valid_settings, "provider": "lob", "page_size": "letter"}, "api_key"),
            ({**valid_settings, "provider": "lob", "api_key": "test_key_123"}, "page_size"),
        ]

    @pytest.fixture
    def transient_failures(self) -> list[Failure]:
        return [Failure("spool directory unusable", spool_is_a_file)]

    @pytest.fixture
    def permanent_failures(self) -> list[Failure]:
        return [Failure("sent after close", closed)]


class TestLetterLobContract(ChannelContract):
    channel_class = LetterChannel
    entry_point = "letter"
    capacity = HTTP_SLOTS

    @pytest.fixture
    def make_message(self) -> Callable[[ContactKind], Message]:
        return letter_message

    @pytest.fixture
    def peer(self, http_peer: HttpPeer) -> HttpPeer:
        http_peer.respond = lambda request: Reply(200, json={"id": "ltr_4868c3b754655f90"})
        return http_peer

    @pytest.fixture
    def valid_settings(self, peer: HttpPeer) -> dict[str, Any]:
        return {
            "provider": "lob",
            "page_size": "letter",
            "base_url": peer.url,
            "api_key": "test_0123456789abcdef",
            "timeout": "1s",
            "default_country": "GB",
            "sender": SENDER,
        }

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "base_url": "http://api.lob.example.com"}, "base_url"),
            ({**valid_settings, "api_key": "short"}, "api_key"),
            ({**valid_settings, "mail_type": "pigeon"}, "mail_type"),
            ({**valid_settings, "extra_service": "express"}, "extra_service"),
            ({**valid_settings, "timeout": "1h"}, "timeout"),
        ]

    @pytest.fixture
    def transient_failures(self, peer: HttpPeer) -> list[Failure]:
        return [
            Failure("Lob down", lambda channel: peer.replying(Reply(503))),
            Failure(
                "rate limited",
                lambda channel: peer.replying(Reply(429, headers={"Retry-After": "30"})),
                retry_after=30,
            ),
            Failure("no answer in time", lambda channel: peer.replying(Reply(200, stall=2))),
            Failure("Lob unreachable", lambda channel: peer.down()),
            Failure(
                "bad key: the settings, not the letter",
                lambda channel: peer.replying(Reply(401)),
                retry_after=SETUP_RETRY_AFTER,
            ),
            Failure(
                "wrong base_url",
                lambda channel: peer.replying(Reply(404)),
                retry_after=SETUP_RETRY_AFTER,
            ),
        ]

    @pytest.fixture
    def permanent_failures(self, peer: HttpPeer) -> list[Failure]:
        return [
            Failure(
                "address not mailable",
                lambda channel: peer.replying(Reply(422)),
                mark_contact="invalid",
            ),
            Failure("bad request", lambda channel: peer.replying(Reply(400))),
        ]
