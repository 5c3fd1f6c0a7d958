"""What SMS and voice channels on Twilio (or a Twilio-compatible provider) share in
``[channels.<name>]``."""

from __future__ import annotations

import functools
from datetime import timedelta
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, SecretStr, field_validator

from dispatcher.channel import ChannelSettings, Duration

TWILIO_API = "https://api.twilio.com"


@functools.lru_cache(maxsize=65_536)  # phonenumbers' parse is slow; the same numbers recur
def e164(value: str, region: str | None = None) -> str:
    """``value`` as an E.164 number (``+14155550100``); ValueError naming it when it is not a
    valid number."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _http_url(value: str, example: str) -> str:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ValueError(f"{value!r} is not an http(s) URL without query (e.g. {example})")
    return value.rstrip("/")


class TwilioSettings(ChannelSettings):
    """Account, callbacks and pacing. The auth token both authenticates requests and checks
    the signature of Twilio's callbacks, so it is one secret for both."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="ACxxxxxxxx…")
    auth_token: SecretStr = Field(
        min_length=8, description='"${TWILIO_AUTH_TOKEN}" or "credential:twilio-auth-token"'
    )
    from_number: str | None = Field(None, description="the sender, E.164 (+14155550100)")
    status_callback_base: str | None = Field(
        None,
        description="this daemon's public URL as Twilio reaches it (https://dispatch.example.com);"
        " without it no delivery callbacks are asked for",
    )
    api_base: str = Field(
        TWILIO_API, description="the REST API's base URL: another for a Twilio-compatible provider"
    )
    max_rate: float = Field(
        1.0, gt=0, le=100_000, description="messages per second from this sender, for the process"
    )
    default_region: str = Field(
        "US", pattern=r"^[A-Z]{2}$", description="region of numbers written without +country"
    )
    timeout: Duration = Field(timedelta(seconds=10), description="for the whole request")

    @field_validator("from_number")
    @classmethod
    def _from_number(cls, value: str | None) -> str | None:
        return None if value is None else e164(value)

    @field_validator("status_callback_base")
    @classmethod
    def _callback_base(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "https://dispatch.example.com")

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return _http_url(value, TWILIO_API)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=100) <= value <= timedelta(minutes=2):
            raise ValueError("must be between 100ms and 2m")
        return value

    @property
    def sender(self) -> str:
        """Who sends: the key of the process-wide throughput limiter."""
        return self.from_number or ""
