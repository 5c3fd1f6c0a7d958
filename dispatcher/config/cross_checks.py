"""Checks no single file's model can make: each channel's settings by its plugin (secrets
resolved first), each step's channel against ``dispatcher.toml``, and each step's template
rendered for its channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from dispatcher.config.dispatcher_file import DispatcherFile
from dispatcher.config.problems import Collector, Problem
from dispatcher.config.schedules_file import SchedulesFile
from dispatcher.config.secrets import is_secret_reference, resolve_secret
from dispatcher.config.values import shown

# A channel plugin's settings validator: settings dict → model, raising ValidationError.
SettingsCheck = Callable[[str, dict[str, Any]], Any]


# What stands for a secret not resolved: long and plain enough for any plugin's checks.
UNRESOLVED_SECRET = "unresolved-secret-" + "0" * 46


def check_channel_settings(
    collector: Collector,
    config: DispatcherFile,
    settings_check: SettingsCheck | None,
    *,
    secrets: bool = True,
) -> dict[str, Any]:
    """Each channel's plugin settings validated by its plugin, its secret references
    resolved. A secret that cannot be resolved is reported once, at its key, and the rest of
    the channel's settings are still checked; with ``secrets=False`` none is resolved (for
    commands that send nothing) and a placeholder stands in."""
    models: dict[str, Any] = {}
    for name, channel in config.channels.items():
        settings = {}
        resolved: dict[str, str] = {}
        unresolved: set[str] = set()
        for key, value in channel.plugin_settings.items():
            if is_secret_reference(value):
                value, problem = _resolved(value, secrets)
                if problem:
                    collector.add("dispatcher.toml", ("channels", name, key), problem)
                    unresolved.add(key)
                elif secrets:
                    resolved[key] = value
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
                "dispatcher.toml",
                exc,
                prefix=("channels", name),
                secrets=resolved,
                reported=unresolved,
            )
    return models


def _resolved(reference: str, secrets: bool) -> tuple[str, str | None]:
    """The secret's value (the placeholder when secrets are not wanted) and, if it could not
    be resolved, why."""
    if not secrets:
        return UNRESOLVED_SECRET, None
    try:
        return resolve_secret(reference), None
    except ValueError as exc:
        return UNRESOLVED_SECRET, str(exc)


def check_step_channels(
    collector: Collector, config: DispatcherFile, schedules: SchedulesFile
) -> None:
    for schedule_name, schedule in schedules.schedules.items():
        for index, step in enumerate(schedule.steps):
            if step.channel not in config.channels:
                known = ", ".join(sorted(config.channels)) or "none configured"
                collector.add(
                    "schedules.toml",
                    ("schedules", schedule_name, "steps", index, "channel"),
                    f"unknown channel {shown(step.channel)} (channels in dispatcher.toml: {known})",
                )


def check_step_templates(
    collector: Collector, templates: Any, config: DispatcherFile, schedules: SchedulesFile
) -> None:
    seen: set[tuple[str, str]] = set()
    for schedule_name, schedule in schedules.schedules.items():
        for index, step in enumerate(schedule.steps):
            key = (step.channel, step.template)
            if key in seen or step.channel not in config.channels:
                continue  # an unknown channel is reported once, by check_step_channels
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
