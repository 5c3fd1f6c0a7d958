"""A loopback Twilio for every test here, and channel settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatcher.testing import ChannelContract
from dispatcher.testing.twilio_peer import ACCOUNT_SID, AUTH_TOKEN, TwilioPeer

SENDER = "+12025550100"
PUBLIC = "https://dispatch.example.com"


@pytest.fixture
def twilio() -> Iterator[TwilioPeer]:
    with TwilioPeer() as peer:
        yield peer


@pytest.fixture
def twilio_settings(twilio: TwilioPeer) -> dict[str, Any]:
    """Settings as the core hands them over (the token reference already resolved)."""
    return {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": SENDER,
        "status_callback_base": PUBLIC,
        "api_base": twilio.url,
        "max_rate": 1000,
        "timeout": "2s",
    }


class TwilioContract(ChannelContract):
    """The contract suite for a Twilio channel, against the loopback Twilio; a subclass names
    the channel class, its entry point and its bad settings."""

    @pytest.fixture
    def peer(self, twilio: TwilioPeer) -> TwilioPeer:
        return twilio

    @pytest.fixture
    def valid_settings(self, twilio_settings: dict[str, Any]) -> dict[str, Any]:
        return twilio_settings
