"""``dispatcher.toml``: the store, the dispatch loop, logs, the HTTP server and its API
tokens, and the channels with each one's plugin settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatcher.config.durations import Duration, at_least, at_most, format_duration
from dispatcher.config.secrets import SecretReference
from dispatcher.config.values import StrictModel, TimeZoneName, shown


class DispatchSettings(StrictModel):
    batch_size: int = Field(500, ge=1, le=10_000)
    concurrency: int = Field(32, ge=1, le=10_000)
    poll_interval: Annotated[
        Duration, at_least(timedelta(milliseconds=100), "the idle loop polls the store this often")
    ] = timedelta(seconds=1)
    retry_attempts: int = Field(3, ge=1, le=10, description="tries in process per claim")
    retry_max_wait: Duration = timedelta(seconds=5)
    reschedule_after: Duration = timedelta(minutes=15)
    reschedule_growth: float = Field(2.0, ge=1.0, le=10.0, description="wait × this per try")
    max_tries: int = Field(5, ge=1, description="claims before a reminder is failed for good")
    give_up_after: Duration | None = None  # waits adding up to this: failed for good
    drain_timeout: Duration = timedelta(seconds=30)
    claim_lease: Annotated[
        Duration, at_least(timedelta(seconds=1), "a claim not renewed for this long is taken back")
    ] = timedelta(minutes=10)
    record_interval: Annotated[
        Duration, at_least(timedelta(milliseconds=1), "the records are flushed this often")
    ] = timedelta(milliseconds=50)
    # After a claim that did not fill its batch, wait this long before claiming again: a
    # steady trickle of due reminders is then claimed a few times a second, not once each.
    claim_coalesce: Annotated[
        Duration, at_most(timedelta(seconds=1), "every reminder would wait that long")
    ] = timedelta(milliseconds=50)
    # Attempts whose outcome is unknown are asked of their channel (``reconcile``) at start
    # and then this often.
    reconcile_interval: Annotated[
        Duration, at_least(timedelta(seconds=1), "unknown attempts are reconciled this often")
    ] = timedelta(minutes=5)


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


class SelfServiceSettings(StrictModel):
    """The person's own page (``/s/<token>``): the links templates get as
    ``self_service_url``, signed with ``secret`` and valid ``link_days`` days; what the page
    offers (a hardship report pauses the ladder ``hardship_pause``); the lender's own payment
    page (``payment_url``, shown as a link: the page takes no card data); at most
    ``max_requests`` requests per link per ``per`` (past that: 429)."""

    base_url: str
    secret: SecretReference
    link_days: int = Field(30, ge=1, le=366)
    company: str = ""  # shown on the page; default template_vars.company
    payment_url: str = ""
    hardship_pause: Annotated[
        Duration, at_least(timedelta(days=1), "a hardship report pauses the ladder this long")
    ] = timedelta(days=30)
    max_requests: int = Field(30, ge=1, le=10_000)
    per: Annotated[
        Duration, at_least(timedelta(seconds=1), "requests per link are counted over this")
    ] = timedelta(minutes=10)

    @field_validator("base_url", "payment_url")
    @classmethod
    def _url(cls, value: str, info: Any) -> str:
        if info.field_name == "payment_url" and not value:
            return value
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?\Z", value):
            raise ValueError(f"{shown(value)} is not an http(s) URL (e.g. https://pay.example.com)")
        return value.rstrip("/") if info.field_name == "base_url" else value


@dataclass(frozen=True)
class RetryRule:
    """How a reminder refused for a temporary reason goes back to the queue: after
    ``after`` × ``growth`` ** (tries already made), failed for good at ``max_tries`` tries or
    once those waits add up to ``give_up_after`` (time the policy deferred it not counted, so
    the reminder's real age is at least that)."""

    after: timedelta
    growth: float
    max_tries: int
    give_up_after: timedelta | None = None

    def wait(self, tries: int) -> timedelta:
        """The wait after a failure, ``tries`` tries having been made before it."""
        return self.after * (self.growth ** max(tries, 0))

    def waited(self, tries: int) -> timedelta:
        """The waits of the first ``tries`` failures, added up."""
        return sum((self.wait(n) for n in range(max(tries, 0))), timedelta(0))

    def expired(self, tries: int) -> bool:
        """Whether a reminder with ``tries`` tries made has waited ``give_up_after``."""
        return self.give_up_after is not None and self.waited(tries) >= self.give_up_after

    def describe(self) -> str:
        """``every 30m × 1.5 per try, at most 20 tries, giving up after 4d``."""
        growth = f" × {self.growth:g} per try" if self.growth != 1 else ""
        text = f"after {format_duration(self.after)}{growth}, at most {self.max_tries} tries"
        if self.give_up_after is not None:
            text += f", giving up once the waits reach {format_duration(self.give_up_after)}"
        return text


RETRY_KEYS = ("reschedule_after", "reschedule_growth", "max_tries", "give_up_after")


class ChannelSettings(BaseModel):
    """A channel instance: which plugin runs it, its own long retries (each falling back to
    the plugin's default, then to ``[dispatch]``), plus that plugin's own settings (checked
    by the plugin's settings model)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    plugin: str
    enabled: bool = True
    on_unknown: Literal["hold", "resend"] = "hold"
    reschedule_after: Duration | None = None
    reschedule_growth: float | None = Field(None, ge=1.0, le=10.0)
    max_tries: int | None = Field(None, ge=1)
    give_up_after: Duration | None = None

    @property
    def plugin_settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# A channel name, as config names it and the API filters by it.
CHANNEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
_CHANNEL_NAME = re.compile(CHANNEL_NAME_PATTERN.removesuffix("$") + r"\Z")
# en, zh-CN, pt-BR, zh-Hant-TW: a locale is part of a template's file name.
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\Z")


def _locale(value: str) -> str:
    if not _LOCALE.match(value):
        raise ValueError(f"{shown(value)} is not a locale (use e.g. en, zh-CN)")
    return value


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
    self_service: SelfServiceSettings | None = None
    status_interval: Annotated[
        Duration, at_least(timedelta(milliseconds=100), "the status is refreshed this often")
    ] = timedelta(seconds=10)
    template_vars: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)

    def retry_rule(self, channel: str, defaults: Mapping[str, Any] | None = None) -> RetryRule:
        """The long retries of ``channel``: each of its ``[channels.<name>]`` settings, else
        the plugin's default (``defaults``: ``Channel.retry_defaults``), else ``[dispatch]``."""
        own = self.channels.get(channel)
        given = {k: getattr(own, k) for k in RETRY_KEYS if own is not None}
        base = {k: getattr(self.dispatch, k) for k in RETRY_KEYS}
        value: dict[str, Any] = {
            k: given.get(k) if given.get(k) is not None else (defaults or {}).get(k, base[k])
            for k in RETRY_KEYS
        }
        return RetryRule(
            after=value["reschedule_after"],
            growth=value["reschedule_growth"],
            max_tries=value["max_tries"],
            give_up_after=value["give_up_after"],
        )

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, ChannelSettings]) -> dict[str, ChannelSettings]:
        # A channel's name is a metric label and part of file names (templates/<name>/).
        for name in value:
            if not _CHANNEL_NAME.match(name):
                raise ValueError(
                    f"{shown(name)} is not a channel name (up to 64 letters, digits, _ -)"
                )
        return value

    @field_validator("locales")
    @classmethod
    def _some_locales(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one locale: with none, no template would be checked")
        return tuple(_locale(v) for v in value)

    @field_validator("fallback_locale")
    @classmethod
    def _fallback_locale(cls, value: str) -> str:
        return _locale(value)

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(
                f"{shown(value)} is not a store URL (use sqlite:///path or postgresql://…)"
            )
        return value
