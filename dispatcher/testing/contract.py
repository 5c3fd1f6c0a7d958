"""The channel contract suite: subclass ``ChannelContract`` in a test module and pytest checks
that the channel declares itself properly, sends once per call, raises the core's error types,
never sleeps or retries, validates its settings, opens and closes safely, and keeps personal
data out of logs and errors.

Each check is a test method; a failure says what to change in the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

import pytest
from pydantic import SecretStr, ValidationError

from dispatcher.channel import (
    Channel,
    ChannelSettings,
    Message,
    PermanentError,
    SendResult,
    TransientError,
)
from dispatcher.model import ContactKind, Outcome
from dispatcher.runtime.plugins import GROUP, ONLY_ENV, load_plugins
from dispatcher.testing.samples import personal_data, sample_message
from dispatcher.testing.watch import Peer, Watched, watched_send

TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
SECRET_NAME = re.compile(r"secret|token|password|passwd|api_?key|private_?key", re.IGNORECASE)
SENT_OUTCOMES = (Outcome.PLACED, Outcome.DELIVERED, Outcome.CONVERSATION)
_PLAIN_RECORD_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


@dataclass(frozen=True)
class Failure:
    """One way to make the next send fail.

    ``provoke(channel)`` is called after the channel is opened, just before the send. It may
    return nothing, an awaitable, or a context manager (sync or async) that holds the failure
    for the send and undoes it afterwards. ``retry_after`` and ``mark_contact``, when given,
    are what the raised error must carry.
    """

    name: str
    provoke: Callable[[Channel], Any]
    retry_after: float | None = None
    mark_contact: str | None = None


def _fail(problems: list[str], heading: str) -> NoReturn:
    pytest.fail(heading + "\n" + "\n".join(f"- {p}" for p in problems), pytrace=False)


def _missing(fixture: str, hint: str) -> NoReturn:
    pytest.fail(f"ChannelContract needs a `{fixture}` fixture in your test class: {hint}", False)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}({str(exc)!r})"


@contextlib.asynccontextmanager
async def _provoked(failure: Failure | None, channel: Channel) -> AsyncIterator[None]:
    held: Any = failure.provoke(channel) if failure else None
    if inspect.isawaitable(held):
        held = await held
    if hasattr(held, "__aenter__"):
        async with held:
            yield
    elif hasattr(held, "__enter__"):
        with held:
            yield
    else:
        yield


class ChannelContract:
    """Base class of a channel's contract tests. Set ``channel_class`` (and ``entry_point``, the
    name under ``[project.entry-points.dispatcher]``) and provide the fixtures ``peer``,
    ``valid_settings``, ``bad_settings``, ``transient_failures`` and ``permanent_failures``.
    """

    channel_class: ClassVar[type[Channel]]
    entry_point: ClassVar[str | None] = None
    send_timeout: ClassVar[float] = 30.0  # longest a send may take before it counts as hung

    # -- what the author provides -------------------------------------------------------------

    @pytest.fixture
    def peer(self) -> Peer:
        _missing(
            "peer",
            "what the channel sends to, counting deliveries in `requests` "
            "(dispatcher.testing.HttpPeer for an HTTP API)",
        )

    @pytest.fixture
    def valid_settings(self) -> dict[str, Any]:
        _missing("valid_settings", "a dict of settings that work against the peer")

    @pytest.fixture
    def bad_settings(self) -> list[tuple[dict[str, Any], str]]:
        _missing("bad_settings", "a list of (settings, name of the field that is wrong)")

    @pytest.fixture
    def transient_failures(self) -> list[Failure]:
        _missing(
            "transient_failures",
            "a list of Failure(name, provoke) that must raise "
            "TransientError: rate limit, provider 5xx, timeout, connection refused",
        )

    @pytest.fixture
    def permanent_failures(self) -> list[Failure]:
        _missing(
            "permanent_failures",
            "a list of Failure(name, provoke) that must raise "
            "PermanentError: a rejected address, a refused request",
        )

    @pytest.fixture
    def make_message(self) -> Callable[[ContactKind], Message]:
        """A message to the sample person at her address of the given kind."""
        return sample_message

    @pytest.fixture
    def make_channel(self, valid_settings: dict[str, Any]) -> Callable[..., Channel]:
        """``make_channel(settings=None)``: a channel named ``contract`` built the way the core
        builds one (settings validated by the channel's own model)."""

        def make(settings: dict[str, Any] | None = None) -> Channel:
            cls = self._channel_class()
            try:
                model = cls.Settings.model_validate(
                    valid_settings if settings is None else settings
                )
            except ValidationError as exc:
                _fail([str(exc)], "valid_settings are rejected by the channel's Settings model:")
            return cls("contract", model)

        return make

    # -- the checks ---------------------------------------------------------------------------

    def test_declares_type_name_contact_kind_and_settings(
        self, make_channel: Callable[..., Channel]
    ) -> None:
        cls = self._channel_class()
        problems = []
        type_name = getattr(cls, "type_name", None)
        if not isinstance(type_name, str) or not TYPE_NAME.match(type_name):
            problems.append(
                f"type_name is {type_name!r}: set it to what admins write in "
                '`plugin = "…"`, lower-case letters, digits and hyphens (e.g. "field-visit")'
            )
        if not (isinstance(cls.Settings, type) and issubclass(cls.Settings, ChannelSettings)):
            problems.append(
                f"Settings is {cls.Settings!r}: subclass dispatcher.channel.ChannelSettings "
                "(unknown keys become errors and settings cannot change after validation)"
            )
        if cls.send is Channel.send:
            problems.append("send is not implemented: define `async def send(self, message)`")
        for method in ("open", "send", "close"):
            if not inspect.iscoroutinefunction(getattr(cls, method)):
                problems.append(f"{method} must be a coroutine: `async def {method}(…)`")
        channel = make_channel()
        if not isinstance(channel.contact_kind, ContactKind):
            problems.append(
                f"contact_kind is {channel.contact_kind!r}: use dispatcher.model.ContactKind "
                "(PHONE, EMAIL or POSTAL) so the core picks the right address"
            )
        if not isinstance(channel.window_exempt, bool):
            problems.append(f"window_exempt is {channel.window_exempt!r}: use True or False")
        if problems:
            _fail(problems, f"{cls.__name__} does not declare itself as a channel must:")

    def test_is_found_through_its_entry_point(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cls = self._channel_class()
        name = self.entry_point
        if not name:
            pytest.fail(
                'entry_point is not set: set `entry_point = "<name>"` on the test class, the '
                f"name you declare under [project.entry-points.{GROUP}] in pyproject.toml",
                pytrace=False,
            )
        monkeypatch.setenv(ONLY_ENV, name)
        plugins = load_plugins()
        if not any(info.name == name for info in plugins.info):
            pytest.fail(
                f"no entry point {name!r} in group {GROUP!r} is installed: declare "
                f'`{name} = "your_package.module"` under [project.entry-points.{GROUP}] in '
                "pyproject.toml and install the package (pip install -e .)",
                pytrace=False,
            )
        if plugins.problems:
            _fail(plugins.problems, f"entry point {name!r} did not load cleanly:")
        registered = plugins.channel_types.get(getattr(cls, "type_name", ""))
        if registered is None:
            found = ", ".join(plugins.channel_types) or "none"
            pytest.fail(
                f"entry point {name!r} registered no channel type "
                f"{getattr(cls, 'type_name', '?')!r} (it registered: {found}): call "
                f"`register({cls.__name__})` in a `@hookimpl def register_channels(register)`",
                pytrace=False,
            )
        if registered is not cls:
            pytest.fail(
                f"entry point {name!r} registered {registered!r} under "
                f"{cls.type_name!r}, not {cls!r}",
                pytrace=False,
            )

    def test_send_returns_a_send_result(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        sent = self._run(make_channel, make_message, peer, None)
        problems = self._unsent(sent, "a working peer")
        if not problems:
            result = sent.result
            if not isinstance(result, SendResult):
                problems.append(
                    f"send returned {result!r}: return dispatcher.channel.SendResult("
                    "provider_id=…) and raise TransientError or PermanentError on failure"
                )
            else:
                if result.outcome not in SENT_OUTCOMES:
                    problems.append(
                        f"SendResult.outcome is {result.outcome!r}: use placed, delivered or "
                        "conversation; failures are raised, never returned"
                    )
                if result.provider_id is not None and (
                    not isinstance(result.provider_id, str) or not result.provider_id
                ):
                    problems.append(
                        f"SendResult.provider_id is {result.provider_id!r}: the provider's id "
                        "for the message as a non-empty string, or None if it gives none"
                    )
        if sent.reached != 1:
            problems.append(
                f"{sent.reached} deliveries reached the peer during one successful send: a "
                "send delivers exactly once (and the `peer` fixture must count deliveries "
                "in `requests`)"
            )
        if problems:
            _fail(problems, "a send to a working peer must deliver once and return a SendResult:")

    def test_transient_failures_raise_transient_error(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
    ) -> None:
        def hint_problems(failure: Failure, error: Exception) -> list[str]:
            assert isinstance(error, TransientError)
            hint = error.retry_after
            if hint is not None and (not isinstance(hint, int | float) or hint < 0):
                return [
                    f"{failure.name}: retry_after is {hint!r}: give seconds as a number "
                    "(parse the provider's Retry-After), or None"
                ]
            if failure.retry_after is not None and hint != pytest.approx(failure.retry_after):
                return [
                    f"{failure.name}: retry_after is {hint!r}, expected {failure.retry_after!r}: "
                    "pass the provider's hint on so the core waits long enough"
                ]
            return []

        self._check_failures(
            make_channel,
            make_message,
            peer,
            transient_failures,
            fixture="transient_failures",
            error_type=TransientError,
            meaning="worth trying again: rate limit, provider 5xx, timeout, network",
            details=hint_problems,
        )

    def test_permanent_failures_raise_permanent_error(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        permanent_failures: list[Failure],
    ) -> None:
        def mark_problems(failure: Failure, error: Exception) -> list[str]:
            assert isinstance(error, PermanentError)
            if error.mark_contact not in (None, "invalid", "opted_out"):
                return [
                    f"{failure.name}: mark_contact is {error.mark_contact!r}: use None, "
                    '"invalid" or "opted_out"'
                ]
            if failure.mark_contact is not None and error.mark_contact != failure.mark_contact:
                return [
                    f"{failure.name}: mark_contact is {error.mark_contact!r}, expected "
                    f"{failure.mark_contact!r}"
                ]
            return []

        self._check_failures(
            make_channel,
            make_message,
            peer,
            permanent_failures,
            fixture="permanent_failures",
            error_type=PermanentError,
            meaning="it will never work for this message: bad address, refused request",
            details=mark_problems,
        )

    def _check_failures(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failures: list[Failure],
        *,
        fixture: str,
        error_type: type[Exception],
        meaning: str,
        details: Callable[[Failure, Exception], list[str]],
    ) -> None:
        """Provoke each failure; it must raise ``error_type``, with the details it should
        carry."""
        if not failures:
            _missing(fixture, "it is empty; give at least one way to provoke one")
        problems: list[str] = []
        for failure in failures:
            sent = self._run(make_channel, make_message, peer, failure)
            error = sent.error
            if sent.hung or not isinstance(error, error_type):
                problems.append(self._misclassified(sent, failure, error_type.__name__, meaning))
                continue
            problems.extend(details(failure, error))
        if problems:
            kind = fixture.split("_")[0]
            _fail(
                problems,
                f"{kind} failures must raise dispatcher.channel.{error_type.__name__}:",
            )

    def test_never_sleeps_or_retries(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
        permanent_failures: list[Failure],
    ) -> None:
        problems = []
        for name, sent in self._every_scenario(
            make_channel, make_message, peer, transient_failures + permanent_failures
        ):
            if sent.slept:
                total = sum(sent.slept)
                problems.append(
                    f"{name}: send slept {len(sent.slept)} time(s), {total:g}s in all: never "
                    "wait in a channel; raise TransientError(retry_after=…) and the core "
                    "decides when to try again, after checking the policy"
                )
            if sent.reached > 1:
                problems.append(
                    f"{name}: {sent.reached} requests reached the peer during one send: never "
                    "retry in a channel (nor let the HTTP client retry); raise TransientError "
                    "and the core retries"
                )
        if problems:
            _fail(problems, "a channel sends once per call and never waits:")

    def test_rejects_bad_settings_with_clear_messages(
        self, valid_settings: dict[str, Any], bad_settings: list[tuple[dict[str, Any], str]]
    ) -> None:
        settings_model = self._channel_class().Settings
        if not bad_settings:
            _missing("bad_settings", "it is empty; give at least one (settings, field) pair")
        problems = []
        try:
            settings_model.model_validate(valid_settings)
        except ValidationError as exc:
            problems.append(f"valid_settings are rejected: {exc}")
        unknown = {**valid_settings, "no_such_setting": 1}
        problems += self._rejection_problems(settings_model, unknown, "no_such_setting")
        for settings, field in bad_settings:
            problems += self._rejection_problems(settings_model, settings, field)
        if problems:
            _fail(problems, f"{settings_model.__name__} must reject bad settings, naming the key:")

    def test_settings_never_show_secrets(self, valid_settings: dict[str, Any]) -> None:
        settings_model = self._channel_class().Settings
        problems = []
        for name, info in settings_model.model_fields.items():
            if SECRET_NAME.search(name) and info.annotation is not SecretStr:
                problems.append(
                    f"`{name}` looks like a secret but is {info.annotation!r}: declare it as "
                    "pydantic.SecretStr so it never shows in a repr, a log or an error "
                    "(read it with .get_secret_value() where it is sent)"
                )
        try:
            settings = settings_model.model_validate(valid_settings)
        except ValidationError as exc:
            _fail([str(exc)], "valid_settings are rejected:")
        for name, value in settings:
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                shown = repr(settings) + str(settings)
                if secret and secret in shown:
                    problems.append(f"the value of `{name}` shows in the settings' repr")
        if problems:
            _fail(problems, "secrets in settings must stay hidden:")

    def test_open_and_close_are_idempotent(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        problems: list[str] = []

        async def twice() -> None:
            channel = make_channel()
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("close before open", channel.close),
                ("first open", channel.open),
                ("second open", channel.open),
            ]
            for step, call in steps:
                try:
                    await call()
                except Exception as exc:
                    problems.append(f"{step} raised {_error(exc)}: it must be safe to repeat")
                    return
            sent = await watched_send(
                channel, make_message(channel.contact_kind), peer, self.send_timeout
            )
            if sent.error is not None or sent.hung or sent.reached != 1:
                problems.append(
                    "after open() twice, one send must deliver once: "
                    + (_error(sent.error) if sent.error else f"{sent.reached} deliveries")
                )
            for step in ("first close", "second close"):
                try:
                    await channel.close()
                except Exception as exc:
                    problems.append(f"{step} raised {_error(exc)}: it must be safe to repeat")
                    return

        asyncio.run(twice())
        if problems:
            _fail(problems, "open() and close() must be idempotent (the daemon may repeat them):")

    def test_logs_and_errors_carry_no_personal_data(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
        permanent_failures: list[Failure],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        problems = []
        messages: list[Message] = []

        def remembered(kind: ContactKind) -> Message:
            messages.append(make_message(kind))
            return messages[-1]

        for name, sent in self._every_scenario(
            make_channel, remembered, peer, transient_failures + permanent_failures
        ):
            secrets = personal_data(messages[-1])
            for record in caplog.records:
                leaked = [s for s in secrets if s in _record_text(record)]
                if leaked:
                    problems.append(
                        f"{name}: a record of logger {record.name!r} at {record.levelname} "
                        f"contains {leaked[0]!r}: log dispatcher.privacy.mask(kind, value) "
                        "instead of the address, and never the name or the body"
                    )
            caplog.clear()
            said = [_error(sent.error)] if sent.error else []
            if isinstance(sent.result, SendResult):
                said.append(sent.result.detail)
            for text in said:
                leaked = [s for s in secrets if s in text]
                if leaked:
                    problems.append(
                        f"{name}: the error or result detail contains {leaked[0]!r}: errors "
                        "are stored and logged, so keep addresses, names and bodies out of them"
                    )
        if problems:
            _fail(problems, "personal data must never reach a log record or an error:")

    # -- helpers ------------------------------------------------------------------------------

    def _channel_class(self) -> type[Channel]:
        cls = getattr(self, "channel_class", None)
        if not (isinstance(cls, type) and issubclass(cls, Channel)):
            pytest.fail(
                f"channel_class is {cls!r}: set `channel_class = YourChannel` on the test "
                "class, a subclass of dispatcher.channel.Channel",
                pytrace=False,
            )
        return cls

    def _run(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failure: Failure | None,
    ) -> Watched:
        """Open a new channel, provoke ``failure`` (if any), send once, close."""

        async def scenario() -> Watched:
            channel = make_channel()
            await channel.open()
            try:
                message = make_message(channel.contact_kind)
                async with _provoked(failure, channel):
                    return await watched_send(channel, message, peer, self.send_timeout)
            finally:
                await channel.close()

        return asyncio.run(scenario())

    def _every_scenario(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failures: list[Failure],
    ) -> Iterator[tuple[str, Watched]]:
        """A send to a working peer, then one per failure: each run when asked for."""
        scenarios: list[tuple[str, Failure | None]] = [("a working peer", None)]
        scenarios += [(failure.name, failure) for failure in failures]
        for name, failure in scenarios:
            yield name, self._run(make_channel, make_message, peer, failure)

    def _unsent(self, sent: Watched, name: str) -> list[str]:
        if sent.hung:
            return [
                f"{name}: send did not return within {self.send_timeout:g}s: give every "
                "network call a timeout"
            ]
        if sent.error is not None:
            return [f"{name}: send raised {_error(sent.error)}"]
        return []

    def _misclassified(self, sent: Watched, failure: Failure, expected: str, when: str) -> str:
        if sent.hung:
            got = f"did not return within {self.send_timeout:g}s (give network calls a timeout)"
        elif sent.error is None:
            got = f"returned {sent.result!r} although the peer failed"
        else:
            got = f"raised {_error(sent.error)}"
        return (
            f"{failure.name}: send {got}: catch this failure and raise "
            f"dispatcher.channel.{expected} ({when})"
        )

    def _rejection_problems(
        self, settings_model: type[Any], settings: dict[str, Any], field: str
    ) -> list[str]:
        try:
            settings_model.model_validate(settings)
        except ValidationError as exc:
            errors = exc.errors()
            named = [e for e in errors if e["loc"] and e["loc"][0] == field]
            if not named:
                keys = ", ".join(".".join(map(str, e["loc"])) or "(model)" for e in errors)
                return [
                    f"{settings!r} is rejected, but the error names {keys} rather than `{field}`:"
                    f" validate `{field}` in its own field validator so admins see which key "
                    "to fix"
                ]
            return [
                f"the error for `{field}` has no message: raise ValueError('what is wrong "
                "and what is allowed') in the validator"
                for e in named
                if not str(e.get("msg", "")).strip()
            ]
        if field == "no_such_setting":
            return [
                "an unknown key (`no_such_setting`) was accepted: subclass "
                "dispatcher.channel.ChannelSettings so a typo in dispatcher.toml is an error"
            ]
        return [
            f"{settings!r} was accepted: reject a bad `{field}` in "
            f"{settings_model.__name__} (a Field constraint or a field_validator)"
        ]


def _record_text(record: logging.LogRecord) -> str:
    """Everything a log record carries that a formatter could print."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a record whose arguments do not fit its message
        parts = [str(record.msg), repr(record.args)]
    parts += [repr(v) for k, v in vars(record).items() if k not in _PLAIN_RECORD_KEYS]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)
