"""Checks that the settings model rejects bad settings naming the key at fault, and keeps
secrets out of its repr."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr, ValidationError

from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import fail_check, missing_fixture

SECRET_NAME = re.compile(r"secret|token|password|passwd|api_?key|private_?key", re.IGNORECASE)


class SettingsChecks(ContractBase):
    """The settings model names the key at fault, and hides secrets."""

    def test_rejects_bad_settings_with_clear_messages(
        self, valid_settings: dict[str, Any], bad_settings: list[tuple[dict[str, Any], str]]
    ) -> None:
        settings_model = self._channel_class().Settings
        if not bad_settings:
            missing_fixture("bad_settings", "it is empty; give at least one (settings, field) pair")
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
            fail_check(
                problems, f"{settings_model.__name__} must reject bad settings, naming the key:"
            )

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
            fail_check([str(exc)], "valid_settings are rejected:")
        for name, value in settings:
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                shown = repr(settings) + str(settings)
                if secret and secret in shown:
                    problems.append(f"the value of `{name}` shows in the settings' repr")
        if problems:
            fail_check(problems, "secrets in settings must stay hidden:")

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
