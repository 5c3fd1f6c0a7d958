"""``dispatcher.toml``: the store, the dispatch loop, logs, the HTTP server and its API
tokens, and the channels with each one's plugin settings."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatcher.config.durations import Duration
from dispatcher.config.secrets import SecretReference
from dispatcher.config.values import StrictModel, TimeZoneName


class DispatchSettings(StrictModel):
    batch_size: int = Field(500, ge=1, le=10_000)
    concurrency: int = Field(32, ge=1, le=10_000)
    poll_interval: Duration = timedelta(seconds=1)
    retry_attempts: int = Field(3, ge=1, le=10, description="tries in process per claim")
    retry_max_wait: Duration = timedelta(seconds=5)
    reschedule_after: Duration = timedelta(minutes=15)
    max_tries: int = Field(5, ge=1, description="claims before a reminder is failed for good")
    drain_timeout: Duration = timedelta(seconds=30)
    claim_lease: Duration = timedelta(minutes=10)
    record_interval: Duration = timedelta(milliseconds=50)
    # After a claim that did not fill its batch, wait this long before claiming again: a
    # steady trickle of due reminders is then claimed a few times a second, not once each.
    claim_coalesce: Duration = timedelta(milliseconds=50)

    @field_validator("claim_coalesce")
    @classmethod
    def _short_coalesce(cls, value: timedelta) -> timedelta:
        if value > timedelta(seconds=1):
            raise ValueError(f"{value} is longer than 1s: every reminder would wait that long")
        return value


class LogSettings(StrictModel):
    format: Literal["logfmt", "json"] = "logfmt"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HttpSettings(StrictModel):
    enabled: bool = True
    listen: str = "127.0.0.1:8080"

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
        return value


_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")  # recorded as "api:NAME" (64 max)


class ApiToken(StrictModel):
    """A bearer token the API accepts: its name (in logs and idempotency records), where its
    value comes from, and what it may do (``read``, ``read:pii`` = read with personal data
    unmasked, ``write``)."""

    name: str
    secret: SecretReference
    scopes: tuple[Literal["read", "read:pii", "write"], ...] = ("read",)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _TOKEN_NAME.match(value):
            raise ValueError(f"{value!r} is not a token name (letters, digits, _ . -)")
        return value


class ApiSettings(StrictModel):
    """The ``/v1/`` API for lenders' systems (served by the ``[http]`` server)."""

    enabled: bool = True
    max_body: int = Field(4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="bytes")
    max_batch: int = Field(5000, ge=1, le=50_000, description="rows per cases:batch")
    idempotency_ttl: Duration = timedelta(hours=24)
    tokens: tuple[ApiToken, ...] = ()

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, value: tuple[ApiToken, ...]) -> tuple[ApiToken, ...]:
        names = [t.name for t in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"token names must be unique ({', '.join(twice)} given twice)")
        return value


class ChannelSettings(BaseModel):
    """A channel instance: which plugin runs it, plus that plugin's own settings (checked by
    the plugin's settings model)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    plugin: str
    enabled: bool = True
    on_unknown: Literal["hold", "resend"] = "hold"

    @property
    def plugin_settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DispatcherFile(StrictModel):
    store: str = "sqlite:///var/dispatcher.db"
    node: str = ""  # this daemon's name in a shared store; default the host name
    timezone: TimeZoneName = "UTC"
    fallback_timezone: TimeZoneName = "UTC"
    locales: tuple[str, ...] = ("en",)
    fallback_locale: str = "en"
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    status_interval: Duration = timedelta(seconds=10)
    template_vars: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(f"{value!r} is not a store URL (use sqlite:///path or postgresql://…)")
        return value
