"""The twilio-sms channel on the official twilio client against a loopback Twilio: the
contract suite, the exact request, numbers in E.164, Twilio's errors per POLICY.md and the
sender's pacing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from dispatcher_plugins.sms import SmsChannel, SmsSettings
from dispatcher_plugins.twilio_common.limiter import SenderLimiter, SenderLimiters

from dispatcher.channel import Channel, PermanentError, TransientError
from dispatcher.model import ContactKind
from dispatcher.testing import Failure, sample_message
from dispatcher.testing.twilio_peer import (
    INVALID_TO,
    LANDLINE,
    SERVER_ERROR,
    TOO_MANY,
    UNSUBSCRIBED,
    TwilioPeer,
)
from tests.plugins.twilio.conftest import PUBLIC, SENDER, TwilioContract


@contextlib.contextmanager
def unreachable(channel: Channel) -> Iterator[None]:
    """Point the channel's client at a port nothing listens on."""
    assert isinstance(channel, SmsChannel)
    http = channel.client.http_client
    saved = http.api_base  # type: ignore[attr-defined]
    http.api_base = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    try:
        yield
    finally:
        http.api_base = saved  # type: ignore[attr-defined]


class TestSmsContract(TwilioContract):
    channel_class = SmsChannel
    entry_point = "sms"

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "account_sid": "AC123"}, "account_sid"),
            ({**valid_settings, "from_number": "12345"}, "from_number"),
            ({**valid_settings, "api_base": "ftp://example.com"}, "api_base"),
            ({**valid_settings, "status_callback_base": "example.com"}, "status_callback_base"),
            ({**valid_settings, "max_rate": 0}, "max_rate"),
            ({**valid_settings, "auth_token": "short"}, "auth_token"),
            ({**valid_settings, "from_number": None}, "messaging_service_sid"),
        ]

    @pytest.fixture
    def transient_failures(self, twilio: TwilioPeer) -> list[Failure]:
        return [
            Failure("rate limited (20429)", lambda channel: twilio.failing(TOO_MANY)),
            Failure("Twilio 500", lambda channel: twilio.failing(SERVER_ERROR)),
            Failure("Twilio unreachable", unreachable),
        ]

    @pytest.fixture
    def permanent_failures(self, twilio: TwilioPeer) -> list[Failure]:
        return [
            Failure(
                "unsubscribed (21610)",
                lambda channel: twilio.failing(UNSUBSCRIBED),
                mark_contact="opted_out",
            ),
            Failure(
                "invalid To (21211)",
                lambda channel: twilio.failing(INVALID_TO),
                mark_contact="invalid",
            ),
            Failure(
                "not SMS-capable (21614)",
                lambda channel: twilio.failing(LANDLINE),
                mark_contact="invalid",
            ),
        ]


@pytest.fixture
async def sms(twilio_settings: dict[str, Any]) -> Any:
    channel = SmsChannel("sms", SmsSettings(**twilio_settings))
    await channel.open()
    yield channel
    await channel.close()


async def test_the_request_twilio_gets(sms: SmsChannel, twilio: TwilioPeer) -> None:
    message = replace(sample_message(ContactKind.PHONE), contact="(202) 555-0187")
    result = await sms.send(message)
    [sent] = twilio.messages
    assert sent["To"] == "+12025550187", "numbers go out in E.164"
    assert sent["From"] == SENDER and sent["Body"] == message.body
    assert sent["StatusCallback"] == (
        f"{PUBLIC}/twilio/status?channel=sms&attempt={message.attempt_id}"
    )
    assert result.provider_id and result.provider_id.startswith("SM")


async def test_an_invalid_number_is_refused_before_any_request(
    sms: SmsChannel, twilio: TwilioPeer
) -> None:
    message = replace(sample_message(ContactKind.PHONE), contact="+1 202 555 01")
    with pytest.raises(PermanentError) as raised:
        await sms.send(message)
    assert raised.value.mark_contact == "invalid"
    assert twilio.requests == 0


async def test_a_20429_is_no_contact_attempt_but_a_5xx_is_retried(
    sms: SmsChannel, twilio: TwilioPeer
) -> None:
    message = sample_message(ContactKind.PHONE)
    with twilio.failing(TOO_MANY), pytest.raises(TransientError) as limited:
        await sms.send(message)
    assert (limited.value.code, limited.value.attempted) == ("20429", False)
    with twilio.failing(SERVER_ERROR), pytest.raises(TransientError) as down:
        await sms.send(message)
    assert down.value.code == "20500"


async def test_an_unsubscribed_number_is_an_opt_out(sms: SmsChannel, twilio: TwilioPeer) -> None:
    message = sample_message(ContactKind.PHONE)
    twilio.refuse(message.contact, UNSUBSCRIBED)
    with pytest.raises(PermanentError) as raised:
        await sms.send(message)
    assert (raised.value.code, raised.value.mark_contact) == ("21610", "opted_out")


async def test_a_messaging_service_sends_in_place_of_a_number(
    twilio_settings: dict[str, Any], twilio: TwilioPeer
) -> None:
    service = "MG" + "a" * 32
    settings = {**twilio_settings, "from_number": None, "messaging_service_sid": service}
    channel = SmsChannel("sms", SmsSettings(**settings))
    await channel.open()
    try:
        await channel.send(sample_message(ContactKind.PHONE))
    finally:
        await channel.close()
    [sent] = twilio.messages
    assert sent["MessagingServiceSid"] == service and "From" not in sent


def test_exactly_one_sender_is_configured(twilio_settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one of from_number and messaging_service_sid"):
        SmsSettings(**{**twilio_settings, "messaging_service_sid": "MG" + "a" * 32})
    with pytest.raises(ValueError, match="exactly one"):
        SmsSettings(**{**twilio_settings, "from_number": None})


def test_a_sender_is_paced_at_its_rate_after_its_burst() -> None:
    limiter = SenderLimiter(rate=2)
    limiter.burst = 2
    waits = [limiter.reserve() for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]
    # Slots every half second after the burst (minus the instants the calls themselves took).
    assert 0.4 < waits[2] <= 0.5 and 0.9 < waits[3] <= 1.0


def test_channels_sharing_a_sender_share_one_limiter_at_the_lower_rate() -> None:
    limiters = SenderLimiters()
    first = limiters.join(SENDER, "sms", 10)
    second = limiters.join(SENDER, "sms_urgent", 4)
    other = limiters.join("+12025550111", "sms_other", 10)
    assert first is second and first is not other
    assert first.rate == 4
    limiters.leave(SENDER, "sms_urgent")
    assert first.rate == 10, "the rate follows the channels still using the sender"
