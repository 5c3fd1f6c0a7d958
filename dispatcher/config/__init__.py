"""Typed models of every config file, and one loader that reports every error at once.

A config directory holds ``dispatcher.toml``, ``policy.toml``, ``schedules.toml`` and
``templates/``. ``load_config`` parses and validates all of it (channel settings through each
plugin's own model, templates by rendering them with sample data) and raises ``ConfigError``
listing every problem as ``file:line: key: message``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dispatcher.config.durations import Duration
from dispatcher.config.tomlpos import KeyLines

# ---------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Problem:
    """One config error at a place an admin can open."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in a config directory."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------------------------------
# Value types


_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_clock(value: Any) -> time:
    """``"08:00"`` → time(8, 0); ``"24:00"`` means the end of the day (stored as time.max)."""
    if isinstance(value, time):
        return value
    match = _CLOCK.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day (use HH:MM, e.g. 08:00)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f"{value!r} is not a time of day")
        return time.max
    return time(hour, minute)


Clock = Annotated[time, BeforeValidator(parse_clock)]


def _zone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (use e.g. Asia/Shanghai)") from None
    return str(value)


TimeZoneName = Annotated[str, BeforeValidator(_zone)]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(value: Any) -> tuple[int, ...]:
    """``"mon-fri"``, ``["sat", "sun"]``, ``"mon,wed"`` or ``"*"`` → weekday numbers (Mon=0)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    days: set[int] = set()
    for raw in items:
        item = str(raw).strip().lower()
        if item in ("*", "all", "daily"):
            days.update(range(7))
            continue
        start, _, end = item.partition("-")
        if start not in WEEKDAYS or (end and end not in WEEKDAYS):
            raise ValueError(f"{raw!r} is not a weekday or range (use e.g. mon-fri, sat)")
        first = WEEKDAYS.index(start)
        last = WEEKDAYS.index(end) if end else first
        day = first
        while True:
            days.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    return tuple(sorted(days))


Days = Annotated[tuple[int, ...], BeforeValidator(parse_days)]

_SECRET_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_SECRET_CRED = re.compile(r"^credential:([A-Za-z0-9_.\-]+)$")


def resolve_secret(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Resolve ``${ENV}`` from the environment and ``credential:NAME`` from systemd's
    ``$CREDENTIALS_DIRECTORY``; any other string is returned as is."""
    env = os.environ if environ is None else environ
    match = _SECRET_ENV.match(value)
    if match:
        name = match.group(1)
        if name not in env:
            raise ValueError(f"environment variable {name} is not set")
        return env[name]
    match = _SECRET_CRED.match(value)
    if match:
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ValueError(
                f"credential {match.group(1)} requested but CREDENTIALS_DIRECTORY is not set "
                "(use LoadCredential= in the unit)"
            )
        path = Path(directory) / match.group(1)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ValueError(
                f"credential {match.group(1)} cannot be read: {exc.strerror}"
            ) from None
    return value


def is_secret_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_ENV.match(value) or _SECRET_CRED.match(value))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# dispatcher.toml


class DispatchSettings(_Model):
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


class LogSettings(_Model):
    format: Literal["logfmt", "json"] = "logfmt"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HttpSettings(_Model):
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


def _secret_reference(value: Any) -> str:
    # The message never repeats the value: a literal written here may be a real token.
    if not is_secret_reference(value):
        raise ValueError(
            'must be a reference to a secret ("${ENV_VAR}" or "credential:NAME"), '
            "never the secret itself"
        )
    return str(value)


SecretReference = Annotated[str, BeforeValidator(_secret_reference)]


class ApiToken(_Model):
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


class ApiSettings(_Model):
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


class DispatcherFile(_Model):
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


# ---------------------------------------------------------------------------------------------
# policy.toml


class _NamedRule(_Model):
    """A rule in a list. ``name`` lets a later layer (overlay, policy.toml) change or drop
    (``enabled = false``) a preset's rule of the same name; ``origin`` is filled in when
    presets are merged and names where the rule came from."""

    name: str | None = None
    enabled: bool = True
    origin: str = ""


class WindowRule(_NamedRule):
    """When a channel may contact a person, in the person's local time. ``to`` earlier than
    ``from`` means the window crosses midnight (it belongs to the day it starts on)."""

    channels: tuple[str, ...] = ("*",)
    days: Days = tuple(range(7))
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")

    @model_validator(mode="after")
    def _not_empty(self) -> WindowRule:
        if self.start == self.end:
            raise ValueError("from and to are equal: the window would be empty")
        return self


class LimitRule(_NamedRule):
    """At most ``max`` counted attempts on ``channels`` in any rolling ``per``."""

    channels: tuple[str, ...] = ("*",)
    max: int = Field(ge=0)
    per: Duration
    scope: Literal["person", "case", "contact"] = "person"

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("per must be longer than zero")
        return value


class DailyCapRule(_NamedRule):
    """At most ``max`` attempts of a kind on ``channels`` per calendar day in the person's
    local time, counted per ``scope``; the count starts again at local midnight.
    ``count``: ``attempts`` (every counted attempt), ``conversations`` (connected
    conversations, and calls still in flight or of unknown outcome) or ``unanswered``
    (counted attempts that did not become a conversation)."""

    channels: tuple[str, ...] = ("voice",)
    max: int = Field(ge=0)
    scope: Literal["person", "case", "contact"] = "person"
    count: Literal["attempts", "conversations", "unanswered"] = "attempts"


class GapRule(_Model):
    """Minimum time between two contacts to one person on these channels."""

    every: Duration = timedelta(0)
    channels: tuple[str, ...] = ("*",)
    origin: str = ""


class CooldownRule(_Model):
    """After a real conversation, no contact on ``channels`` for ``per`` (same scope).
    ``calendar = true`` counts whole local days with the conversation's day as day 1: a
    ``7d`` cooldown then ends at the start of local day 8."""

    channels: tuple[str, ...] = ("voice",)
    per: Duration = timedelta(days=7)
    scope: Literal["person", "case"] = "case"
    calendar: bool = False
    origin: str = ""


def _country(value: Any) -> str:
    import holidays

    code = str(value).upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(f"{value!r} is not a holiday calendar (use an ISO code, e.g. US, CN)")
    return code


class HolidayRule(_NamedRule):
    """Public holidays of ``calendar`` (an ISO country code, optionally a ``subdivision``)
    are closed days for ``channels``, for people whose time zone is one of ``zones``
    (default: every zone of that country)."""

    calendar: Annotated[str, BeforeValidator(_country)]
    subdivision: str | None = None
    channels: tuple[str, ...] = ("*",)
    zones: tuple[TimeZoneName, ...] = ()

    @model_validator(mode="after")
    def _subdivision_known(self) -> HolidayRule:
        import holidays

        if self.subdivision is not None:
            known = holidays.list_supported_countries().get(self.calendar, [])
            if self.subdivision not in known:
                raise ValueError(
                    f"{self.subdivision!r} is not a subdivision of {self.calendar} "
                    f"(known: {', '.join(known[:12])}{' …' if len(known) > 12 else ''})"
                )
        return self


PRESET_NAMES = ("none", "us-reg-f", "cn")
OVERLAY_NAMES = ("us-ma",)


class PolicyFile(_Model):
    preset: Literal["none", "us-reg-f", "cn"] = "none"
    overlays: tuple[Literal["us-ma"], ...] = ()
    jitter: Duration = timedelta(minutes=20)
    hold_recheck: Duration = timedelta(days=1)
    window_exempt: tuple[str, ...] = ()
    windows: tuple[WindowRule, ...] = ()
    limits: tuple[LimitRule, ...] = ()
    daily_caps: tuple[DailyCapRule, ...] = ()
    holidays: tuple[HolidayRule, ...] = ()
    min_gap: GapRule = Field(default_factory=GapRule)
    cooldown: CooldownRule | None = None
    # Reg F §1006.2(j): what a voicemail may contain. `check` rejects anything else.
    voicemail_channels: tuple[str, ...] = ("voice",)
    limited_content_vars: tuple[str, ...] = (
        "company",
        "company_zh",
        "callback_number",
        "contact_person",
        "person.name",
        "person.first_name",
    )

    @field_validator("hold_recheck")
    @classmethod
    def _recheck_positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("hold_recheck must be at least 1m")
        return value


# ---------------------------------------------------------------------------------------------
# schedules.toml


class Step(_Model):
    day: int = Field(ge=-365, le=3650, description="days after the case's due date")
    channel: str
    template: str
    at: Clock = time(10, 0)


class Repeat(_Model):
    """Repeat one step (1-based ``step``, default the last) every ``every`` until ``until_day``
    or ``times`` repetitions, whichever comes first."""

    every: Duration
    step: int | None = Field(None, ge=1)
    times: int = Field(10, ge=1, le=1000)
    until_day: int | None = None

    @field_validator("every")
    @classmethod
    def _at_least_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("repeat every must be at least 1h")
        return value


class Schedule(_Model):
    steps: tuple[Step, ...] = Field(min_length=1)
    repeat: Repeat | None = None
    catch_up: Literal["latest", "all"] = "latest"

    @model_validator(mode="after")
    def _repeat_step_exists(self) -> Schedule:
        if self.repeat and self.repeat.step and self.repeat.step > len(self.steps):
            raise ValueError(f"repeat.step {self.repeat.step} but only {len(self.steps)} steps")
        return self


class Job(_Model):
    cron: str
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value


KNOWN_JOBS = ("plan",)


def _job_name(value: str) -> str:
    if value not in KNOWN_JOBS:
        raise ValueError(f"unknown job {value!r} (known: {', '.join(KNOWN_JOBS)})")
    return value


JobName = Annotated[str, AfterValidator(_job_name)]


class SchedulesFile(_Model):
    plan_ahead: Duration = timedelta(days=1)
    jobs: dict[JobName, Job] = Field(default_factory=lambda: {"plan": Job(cron="*/5 * * * *")})
    schedules: dict[str, Schedule] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The whole directory


@dataclass
class Config:
    """A validated config directory."""

    root: Path
    dispatcher: DispatcherFile
    policy: PolicyFile
    schedules: SchedulesFile
    templates: Any = None  # dispatcher.templates.TemplateSet, attached by load_config
    channel_settings: dict[str, Any] = field(default_factory=dict)  # name → plugin model

    @property
    def store_url(self) -> str:
        return self.dispatcher.store


FILES: dict[str, type[_Model]] = {
    "dispatcher.toml": DispatcherFile,
    "policy.toml": PolicyFile,
    "schedules.toml": SchedulesFile,
}

# A channel plugin's settings validator: settings dict → model, raising ValidationError.
SettingsCheck = Callable[[str, dict[str, Any]], Any]


def _key_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(file)"


def _message(error: Mapping[str, Any], *, show_input: bool = True) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if error["type"] in ("extra_forbidden",):
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    if (
        show_input
        and "input" in error
        and error["type"] not in ("value_error",)
        and not isinstance(error["input"], dict | list)
    ):
        message += f" (got {error['input']!r})"
    return message


def _clean_loc(loc: Sequence[Any]) -> tuple[str | int, ...]:
    # pydantic puts validator names like "function-after[...]" in loc; drop them.
    return tuple(p for p in loc if not (isinstance(p, str) and "[" in p and "]" in p))


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.positions: dict[str, KeyLines] = {}

    def add(
        self, file: str, loc: Sequence[str | int], message: str, line: int | None = None
    ) -> None:
        if line is None:
            lines = self.positions.get(file)
            line = lines.line_of(loc) if lines else 1
        self.problems.append(Problem(file, line, _key_path(loc), message))

    def add_validation(
        self,
        file: str,
        error: ValidationError,
        prefix: Sequence[str | int] = (),
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        """Record each error of ``error``; values of ``secrets`` (setting → resolved value)
        never appear in a message."""
        for item in error.errors():
            loc = _clean_loc(item["loc"])
            secret = (secrets or {}).get(str(loc[0])) if loc else None
            message = _message(item, show_input=secret is None)
            if secret:
                message = message.replace(secret, "***")
            self.add(file, (*prefix, *loc), message)


def _read_toml(collector: _Collector, name: str) -> dict[str, Any] | None:
    path = collector.root / name
    if not path.exists():
        if name == "dispatcher.toml":
            collector.add(name, (), f"file not found in {collector.root}", line=0)
            return None
        return {}
    text = path.read_text(encoding="utf-8")
    collector.positions[name] = KeyLines(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        collector.add(name, (), f"not valid TOML: {exc}", line=int(match.group(1)) if match else 1)
        return None


def load_dispatcher_file(root: str | Path) -> DispatcherFile:
    """Only ``dispatcher.toml``: enough for commands that just open the store, so a policy or
    template being edited does not stop ``status``, ``explain`` or ``backup``."""
    collector = _Collector(Path(root))
    raw = _read_toml(collector, "dispatcher.toml")
    if raw is not None:
        try:
            return DispatcherFile.model_validate(raw)
        except ValidationError as exc:
            collector.add_validation("dispatcher.toml", exc)
    raise ConfigError(collector.problems)


def load_config(
    root: str | Path,
    *,
    settings_check: SettingsCheck | None = None,
    channel_info: Callable[[str], Any] | None = None,
    check_templates: bool = True,
) -> Config:
    """Load and validate a config directory; raise ConfigError with every problem found.

    ``settings_check(plugin, settings)`` validates one channel's plugin settings (raising
    ``KeyError`` for an unknown plugin, ``ValidationError`` for bad settings);
    ``channel_info(plugin)`` returns the plugin's Channel class (for template checks).
    """
    from dispatcher.config.templates import TemplateSet

    root = Path(root)
    collector = _Collector(root)
    if not root.is_dir():
        raise ConfigError([Problem(str(root), 0, "(directory)", "config directory not found")])

    parsed: dict[str, Any] = {}
    for name, model in FILES.items():
        raw = _read_toml(collector, name)
        if raw is None:
            continue
        try:
            parsed[name] = model.model_validate(raw)
        except ValidationError as exc:
            collector.add_validation(name, exc)

    dispatcher_file = parsed.get("dispatcher.toml")
    schedules_file = parsed.get("schedules.toml")
    channel_settings: dict[str, Any] = {}
    if dispatcher_file is not None:
        channel_settings = _check_channels(collector, dispatcher_file, settings_check)
    if dispatcher_file is not None and schedules_file is not None:
        _check_steps(collector, dispatcher_file, schedules_file)
    templates = None
    if dispatcher_file is not None:
        templates = TemplateSet(
            root / "templates",
            locales=dispatcher_file.locales,
            fallback_locale=dispatcher_file.fallback_locale,
            variables=dispatcher_file.template_vars,
        )
        if check_templates and schedules_file is not None:
            _check_templates(collector, templates, dispatcher_file, schedules_file)

    if collector.problems:
        raise ConfigError(collector.problems)
    return Config(
        root=root,
        dispatcher=dispatcher_file,  # type: ignore[arg-type]
        policy=parsed["policy.toml"],
        schedules=schedules_file,  # type: ignore[arg-type]
        templates=templates,
        channel_settings=channel_settings,
    )


def _check_channels(
    collector: _Collector, config: DispatcherFile, settings_check: SettingsCheck | None
) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, channel in config.channels.items():
        settings = {}
        secrets: dict[str, str] = {}
        for key, value in channel.plugin_settings.items():
            if is_secret_reference(value):
                try:
                    value = secrets[key] = resolve_secret(value)
                except ValueError as exc:
                    collector.add("dispatcher.toml", ("channels", name, key), str(exc))
                    continue
            settings[key] = value
        if settings_check is None:
            continue
        try:
            models[name] = settings_check(channel.plugin, settings)
        except KeyError:
            collector.add(
                "dispatcher.toml",
                ("channels", name, "plugin"),
                f"no installed plugin provides channel type {channel.plugin!r} "
                "(see `dispatcher plugins`)",
            )
        except ValidationError as exc:
            collector.add_validation(
                "dispatcher.toml", exc, prefix=("channels", name), secrets=secrets
            )
    return models


def _check_steps(collector: _Collector, config: DispatcherFile, schedules: SchedulesFile) -> None:
    for schedule_name, schedule in schedules.schedules.items():
        for index, step in enumerate(schedule.steps):
            if step.channel not in config.channels:
                known = ", ".join(sorted(config.channels)) or "none configured"
                collector.add(
                    "schedules.toml",
                    ("schedules", schedule_name, "steps", index, "channel"),
                    f"unknown channel {step.channel!r} (channels in dispatcher.toml: {known})",
                )


def _check_templates(
    collector: _Collector, templates: Any, config: DispatcherFile, schedules: SchedulesFile
) -> None:
    seen: set[tuple[str, str]] = set()
    for schedule_name, schedule in schedules.schedules.items():
        for index, step in enumerate(schedule.steps):
            key = (step.channel, step.template)
            if key in seen or step.channel not in config.channels:
                continue  # an unknown channel is reported once, by _check_steps
            seen.add(key)
            for problem in templates.check(step.channel, step.template):
                if problem.file is None:
                    collector.add(
                        "schedules.toml",
                        ("schedules", schedule_name, "steps", index, "template"),
                        problem.message,
                    )
                else:
                    collector.problems.append(
                        Problem(problem.file, problem.line, problem.key, problem.message)
                    )
