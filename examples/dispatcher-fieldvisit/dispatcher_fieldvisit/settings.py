"""What admins write under ``[channels.<name>]`` with ``plugin = "field-visit"``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from dispatcher.channel import ChannelSettings, Duration

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FieldVisitSettings(ChannelSettings):
    allow_insecure: bool = Field(
        False, description="allow http:// to a host other than this machine (never in production)"
    )
    endpoint: str = Field(description="the CRM's webhook that creates a visit task (https://…)")
    secret: SecretStr = Field(
        min_length=16, description='HMAC key shared with the CRM: "${ENV}" or "credential:NAME"'
    )
    timeout: Duration = Field(timedelta(seconds=10), description="for the whole request")
    queue: str | None = Field(
        None, pattern=r"^[\w.\-]{1,64}$", description="the CRM queue or team given the task"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str, info: ValidationInfo) -> str:
        # The request carries a home address and a debt: it must not cross a network in clear.
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(
                f"{value!r} is not an http(s) URL (e.g. https://crm.example.com/visits)"
            )
        insecure_ok = is_loopback(url.hostname) or info.data.get("allow_insecure", False)
        if url.scheme == "http" and not insecure_ok:
            raise ValueError(
                "must use https:// (http:// is allowed only to this machine, or with "
                "allow_insecure = true)"
            )
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=100) <= value <= timedelta(minutes=2):
            raise ValueError("must be between 100ms and 2m")
        return value
