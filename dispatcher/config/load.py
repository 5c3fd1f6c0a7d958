"""Read a config directory and validate all of it, raising ``ConfigError`` with every
problem found rather than the first.

A file with a bad value is still used for the checks across files, validated without the
top-level keys (or, in ``schedules.toml``, the schedules) that failed; a check that needs a
key left out is skipped rather than reporting what the missing key would cause.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
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


# A config file is written by hand; one this big is a mistake (and would be read whole).
MAX_FILE_BYTES = 4 * 1024 * 1024
# Files the daemon cannot run safely without: policy.toml holds the quiet hours and limits.
REQUIRED = {
    "dispatcher.toml": "file not found in {root}",
    "policy.toml": "file not found in {root}: without it no quiet hours and no contact limits "
    'would apply; to run without a contact policy deliberately, write one with preset = "none"',
}


def _read_toml(collector: Collector, name: str) -> dict[str, Any] | None:
    """The parsed file, ``{}`` for an optional file that is absent, or None (the problem
    recorded) when it cannot be read or parsed."""
    path = collector.root / name
    if not path.exists() and not path.is_symlink():
        if name in REQUIRED:
            collector.add(name, (), REQUIRED[name].format(root=collector.root), line=0)
            return None
        return {}
    text = _read_text(collector, name, path)
    if text is None:
        return None
    collector.positions[name] = KeyLines(text)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        collector.add(name, (), f"not valid TOML: {exc}", line=_error_line(str(exc), text))
    except RecursionError:
        collector.add(name, (), "not valid TOML: arrays or tables nested too deeply", line=1)
    return None


def _read_text(collector: Collector, name: str, path: Path) -> str | None:
    """The file's text, or None with the reason recorded: not a regular file, unreadable,
    too big, or not UTF-8 (TOML is UTF-8 by definition)."""
    try:
        if not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file"
            collector.add(name, (), f"is {kind}; expected a TOML file", line=0)
            return None
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            collector.add(name, (), f"is {size:,} bytes; a config file is at most 4 MiB", line=0)
            return None
        data = path.read_bytes()
    except OSError as exc:
        collector.add(name, (), f"cannot be read: {exc.strerror}", line=0)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex()
        message = f"not UTF-8: byte 0x{byte} cannot be decoded (save the file as UTF-8)"
        collector.add(name, (), message, line=line)
        return None


def _error_line(message: str, text: str) -> int:
    match = re.search(r"line (\d+)", message)
    if match:
        return int(match.group(1))
    # "at end of document": the error is on the last line, not the first.
    return max(1, len(text.splitlines())) if "end of document" in message else 1


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


# What each check across files needs intact (not left out for a bad value).
TEMPLATE_KEYS = ("locales", "fallback_locale", "template_vars", "channels")
RULE_KEYS = ("voicemail_channels", "limited_content_vars")


@dataclass
class Reading:
    """A config directory as far as it could be read: each file's model, the top-level keys
    left out of it for a bad value, each channel's validated settings, and every problem."""

    root: Path
    collector: Collector
    files: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, set[str]] = field(default_factory=dict)
    channel_settings: dict[str, Any] = field(default_factory=dict)
    templates: Any = None

    @property
    def problems(self) -> list[Problem]:
        return self.collector.problems

    def intact(self, name: str, keys: tuple[str, ...] = ()) -> bool:
        """Whether ``name`` was read with none of ``keys`` left out."""
        return name in self.files and not self.dropped.get(name, set()) & set(keys)

    def config(self) -> Config | None:
        """The directory as a ``Config`` when every file was read (perhaps partly)."""
        if not all(name in self.files for name in FILES):
            return None
        return Config(
            root=self.root,
            dispatcher=self.files["dispatcher.toml"],
            policy=self.files["policy.toml"],
            schedules=self.files["schedules.toml"],
            templates=self.templates,
            channel_settings=self.channel_settings,
        )


def read_config(
    root: str | Path,
    *,
    settings_check: SettingsCheck | None = None,
    check_templates: bool = True,
    secrets: bool = True,
) -> Reading:
    """Read and check as much of a config directory as its problems allow (see
    ``load_config``); the problems are in the result, nothing is raised."""
    from dispatcher.config.templates import TemplateSet

    root = Path(root)
    reading = Reading(root, Collector(root))
    if not root.is_dir():
        reading.problems.append(Problem(str(root), 0, "(directory)", "config directory not found"))
        return reading
    for name, model in FILES.items():
        raw = _read_toml(reading.collector, name)
        if raw is not None:
            _validate(reading, name, model, raw)
    if "policy.toml" in reading.files:
        _explicit_policy(reading)

    dispatcher_file = reading.files.get("dispatcher.toml")
    schedules_file = reading.files.get("schedules.toml")
    if dispatcher_file is not None:
        reading.channel_settings = check_channel_settings(
            reading.collector, dispatcher_file, settings_check, secrets=secrets
        )
    steps_checked = (
        dispatcher_file is not None
        and schedules_file is not None
        and reading.intact("dispatcher.toml", ("channels",))
        and reading.intact("schedules.toml", ("schedules",))
    )
    if steps_checked and dispatcher_file is not None and schedules_file is not None:
        check_step_channels(reading.collector, dispatcher_file, schedules_file)
    if dispatcher_file is not None:
        reading.templates = TemplateSet(
            root / "templates",
            locales=dispatcher_file.locales,
            fallback_locale=dispatcher_file.fallback_locale,
            variables=dispatcher_file.template_vars,
        )
        if (
            check_templates
            and steps_checked
            and schedules_file is not None
            and reading.intact("dispatcher.toml", TEMPLATE_KEYS)
        ):
            check_step_templates(
                reading.collector, reading.templates, dispatcher_file, schedules_file
            )
    return reading


def _validate(reading: Reading, name: str, model: type[StrictModel], raw: dict[str, Any]) -> None:
    """Validate ``raw``; on errors, record them and validate again without what failed (a
    top-level key, or one schedule) so the other checks still see the rest of the file."""
    try:
        reading.files[name] = model.model_validate(raw)
        return
    except ValidationError as exc:
        reading.collector.add_validation(name, exc)
        failed = [error["loc"] for error in exc.errors()]
    dropped = {str(loc[0]) for loc in failed if loc}
    rest = {key: value for key, value in raw.items() if key not in dropped}
    under = [loc for loc in failed if loc and loc[0] == "schedules"]
    if (
        name == "schedules.toml"
        and isinstance(raw.get("schedules"), dict)
        and under
        and all(len(loc) > 1 for loc in under)
    ):
        # One broken schedule leaves the others to be checked.
        bad = {str(loc[1]) for loc in under}
        rest["schedules"] = {k: v for k, v in raw["schedules"].items() if k not in bad}
        dropped.discard("schedules")
    if not all(loc for loc in failed):
        return  # the file as a whole is wrong (a model-level check)
    try:
        reading.files[name] = model.model_validate(rest)
    except ValidationError:
        return  # what is left still fails (a check across keys): the file is not used
    reading.dropped[name] = dropped


def _explicit_policy(reading: Reading) -> None:
    """A policy with no preset, windows or limits contacts at any hour without limit: only
    when written on purpose (``preset = "none"``)."""
    policy = reading.files["policy.toml"]
    if "preset" in policy.model_fields_set or policy.windows or policy.limits:
        return
    if "policy.toml" in reading.dropped:
        return  # its rules may be what failed
    reading.collector.add(
        "policy.toml",
        (),
        "sets no preset, no windows and no limits: people would be contacted at any hour "
        'without limit; name a preset, or write preset = "none" to run without one deliberately',
        line=1,
    )


def load_config(
    root: str | Path,
    *,
    settings_check: SettingsCheck | None = None,
    check_templates: bool = True,
    secrets: bool = True,
) -> Config:
    """Load and validate a config directory; raise ConfigError with every problem found.

    ``settings_check(plugin, settings)`` validates one channel's plugin settings (raising
    ``KeyError`` for an unknown plugin, ``ValidationError`` for bad settings). With
    ``secrets=False`` secret references are left unresolved (a placeholder takes their place),
    for commands that send nothing.
    """
    reading = read_config(
        root, settings_check=settings_check, check_templates=check_templates, secrets=secrets
    )
    config = reading.config()
    if reading.problems or config is None:
        raise ConfigError(reading.problems)
    return config
