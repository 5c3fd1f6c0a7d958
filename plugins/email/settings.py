"""What admins write under ``[channels.<name>]`` with ``plugin = "email"``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from email.utils import parseaddr
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from dispatcher.channel import ChannelSettings, Duration

DEFAULT_PORTS = {"none": 25, "starttls": 587, "implicit": 465}

# RFC 5321 §4.5.4.1: a retry interval of at least 30 minutes, and a give-up time of at least
# 4-5 days. The email channel's long retries, unless its [channels.<name>] section sets them:
# 30m, 45m, 68m … (×1.5), given up once the waits reach 4 days (the 13th try).
RETRY_DEFAULTS = {
    "reschedule_after": timedelta(minutes=30),
    "reschedule_growth": 1.5,
    "max_tries": 30,
    "give_up_after": timedelta(days=4),
}


class TlsMode(StrEnum):
    """How the connection to the SMTP server is protected."""

    NONE = "none"  # plain SMTP: only to this machine or a trusted relay
    STARTTLS = "starttls"  # plain connect, then STARTTLS before anything else (port 587)
    IMPLICIT = "implicit"  # TLS from the first byte (SMTPS, port 465)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mailbox(value: str) -> str:
    """``Name <local@domain>`` or ``local@domain``, checked; returned as written."""
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or not address.isascii():
        raise ValueError(f"{value!r} is not an email address (e.g. Acme <billing@acme.example>)")
    return value


class EmailSettings(ChannelSettings):
    host: str = Field(min_length=1, description="the SMTP server (relay or submission host)")
    port: int | None = Field(
        None, ge=1, le=65535, description="default 25, 587 or 465 by the tls mode"
    )
    username: str = Field("", description="log in as this user (empty: no login)")
    password: SecretStr = Field(
        SecretStr(""),
        validate_default=True,
        description='the SMTP password: "${ENV}" or "credential:NAME"',
    )
    # After the credentials, so its check sees them.
    tls: TlsMode = Field(
        TlsMode.STARTTLS, validate_default=True, description="none, starttls or implicit"
    )
    validate_certs: bool = Field(True, description="check the server's TLS certificate")
    sender: str = Field(
        alias="from", description='the From header and envelope sender: "Name <addr@domain>"'
    )
    reply_to: str | None = Field(None, description="the Reply-To header, if replies go elsewhere")
    pool_size: int = Field(4, ge=1, le=100, description="persistent SMTP connections kept open")
    connect_timeout: Duration = Field(timedelta(seconds=10), description="connect, TLS, login")
    command_timeout: Duration = Field(
        timedelta(seconds=30), description="for each SMTP command of a message (MAIL, RCPT, DATA)"
    )
    idle_timeout: Duration = Field(
        timedelta(seconds=60), description="a connection idle this long is closed, not reused"
    )
    public_url: str = Field(
        description="the daemon's address as recipients reach it, for unsubscribe links "
        "(https://…; the daemon serves /email/unsubscribe/… behind it)"
    )
    unsubscribe_secret: SecretStr = Field(
        min_length=16,
        description='signs the unsubscribe links: "${ENV}" or "credential:NAME"; changing it '
        "voids every link already sent",
    )
    message_id_domain: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?$",
        description="right-hand side of Message-ID (default: the From address's domain)",
    )

    @field_validator("sender", "reply_to")
    @classmethod
    def _mailbox(cls, value: str | None) -> str | None:
        return None if value is None else mailbox(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        # The link carries a signed token that opts a person out: it must not travel in clear.
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://mail.example.com)")
        if url.scheme == "http" and not is_loopback(url.hostname):
            raise ValueError("must use https:// (http:// is allowed only to this machine)")
        if url.query or url.fragment:
            raise ValueError("must not have a query or fragment: links are built under it")
        return value.rstrip("/")

    @field_validator("connect_timeout", "command_timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=100) <= value <= timedelta(minutes=10):
            raise ValueError("must be between 100ms and 10m")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        username = info.data.get("username")
        if value.get_secret_value() and not username:
            raise ValueError("a password needs a username")
        if username and not value.get_secret_value():
            raise ValueError("a username needs a password")
        return value

    @field_validator("tls")
    @classmethod
    def _tls(cls, value: TlsMode, info: ValidationInfo) -> TlsMode:
        host = info.data.get("host", "")
        if info.data.get("username") and value is TlsMode.NONE and not is_loopback(host):
            raise ValueError(
                "logging in without TLS would send the password in clear: use "
                '"starttls" or "implicit" (none is allowed with a login only to this machine)'
            )
        return value

    @property
    def smtp_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls.value]

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]
