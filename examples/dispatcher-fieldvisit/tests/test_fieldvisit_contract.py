"""The field-visit channel passes dispatcher's contract suite."""

from __future__ import annotations

from typing import Any

import pytest
from dispatcher_fieldvisit import FieldVisitChannel
from dispatcher_fieldvisit.channel import HTTP_SLOTS
from dispatcher_fieldvisit.fake_crm import FakeCrm

from dispatcher.testing import ChannelContract, Failure, HttpPeer, Reply


class TestFieldVisitContract(ChannelContract):
    channel_class = FieldVisitChannel
    entry_point = "field-visit"
    capacity = HTTP_SLOTS

    @pytest.fixture
    def peer(self, crm: FakeCrm) -> HttpPeer:
        return crm.peer

    @pytest.fixture
    def valid_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        return settings

    @pytest.fixture
    def bad_settings(self, settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**settings, "endpoint": "http://crm.example.com/visits"}, "endpoint"),
            ({**settings, "endpoint": "crm.example.com/visits"}, "endpoint"),
            ({**settings, "secret": "short"}, "secret"),
            ({**settings, "timeout": "1h"}, "timeout"),
            ({**settings, "queue": "north west!"}, "queue"),
        ]

    @pytest.fixture
    def transient_failures(self, crm: FakeCrm) -> list[Failure]:
        peer = crm.peer
        return [
            Failure("CRM unavailable (503)", lambda _: peer.replying(Reply(503))),
            Failure(
                "rate limited (429, Retry-After: 7)",
                lambda _: peer.replying(Reply(429, headers={"Retry-After": "7"})),
                retry_after=7,
            ),
            Failure("no answer in time", lambda _: peer.replying(Reply(201, stall=5))),
            Failure("CRM unreachable", lambda _: peer.down()),
        ]

    @pytest.fixture
    def permanent_failures(self, crm: FakeCrm) -> list[Failure]:
        peer = crm.peer
        return [
            Failure("request refused (400)", lambda _: peer.replying(Reply(400))),
            Failure(
                "address not visitable (422)",
                lambda _: peer.replying(Reply(422, json={"error": "address_invalid"})),
                mark_contact="invalid",
            ),
            Failure("redirected (302)", lambda _: peer.replying(Reply(302))),
        ]
