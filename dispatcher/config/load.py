"""Read a config directory and validate all of it, raising ``ConfigError`` with every
problem found rather than the first."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dispatcher.config.cross_checks import (
    SettingsCheck,
    check_channel_settings,
    check_step_channels,
    check_step_templates,
)
from dispatcher.config.directory import Config
from dispatcher.config.dispatcher_file import DispatcherFile
from dispatcher.config.policy_file import PolicyFile
from dispatcher.config.problems import Collector, ConfigError, Problem
from dispatcher.config.schedules_file import SchedulesFile
from dispatcher.config.tomlpos import KeyLines
from dispatcher.config.values import StrictModel

FILES: dict[str, type[StrictModel]] = {
    "dispatcher.toml": DispatcherFile,
    "policy.toml": PolicyFile,
    "schedules.toml": SchedulesFile,
}


def _read_toml(collector: Collector, name: str) -> dict[str, Any] | None:
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
    collector = Collector(Path(root))
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
    check_templates: bool = True,
) -> Config:
    """Load and validate a config directory; raise ConfigError with every problem found.

    ``settings_check(plugin, settings)`` validates one channel's plugin settings (raising
    ``KeyError`` for an unknown plugin, ``ValidationError`` for bad settings).
    """
    from dispatcher.config.templates import TemplateSet

    root = Path(root)
    collector = Collector(root)
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
        channel_settings = check_channel_settings(collector, dispatcher_file, settings_check)
    if dispatcher_file is not None and schedules_file is not None:
        check_step_channels(collector, dispatcher_file, schedules_file)
    templates = None
    if dispatcher_file is not None:
        templates = TemplateSet(
            root / "templates",
            locales=dispatcher_file.locales,
            fallback_locale=dispatcher_file.fallback_locale,
            variables=dispatcher_file.template_vars,
        )
        if check_templates and schedules_file is not None:
            check_step_templates(collector, templates, dispatcher_file, schedules_file)

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
