"""A loaded configuration made ready to run: plugins found, settings checked, channels built,
policy compiled. The daemon swaps a whole Runtime on reload, never parts of one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatcher.channel import Channel
from dispatcher.config import Config, ConfigError, Problem, load_config
from dispatcher.config.template_rules import check_template_rules
from dispatcher.policy import ChannelTraits, Policy, compile_policy
from dispatcher.runtime.plugins import Plugins, load_plugins
from dispatcher.runtime.versions import config_version, policy_version


@dataclass
class Runtime:
    config: Config
    plugins: Plugins
    channels: dict[str, Channel]
    policy: Policy
    version: str = ""
    policy_version: str = ""  # hash of the effective policy and every template

    @property
    def resend_on_unknown(self) -> list[str]:
        return [
            name for name, c in self.config.dispatcher.channels.items() if c.on_unknown == "resend"
        ]


def load_runtime(
    root: str | Path, *, plugins: Plugins | None = None, extra_plugins: list[Any] | None = None
) -> Runtime:
    """Load and check the config directory with the installed plugins; raise ConfigError
    listing every problem."""
    plugins = plugins or load_plugins(extra_plugins)
    try:
        config = load_config(root, settings_check=plugins.validate_settings)
    except ConfigError as exc:
        problems = exc.problems + [Problem("(plugins)", 0, "plugins", p) for p in plugins.problems]
        raise ConfigError(problems) from None
    if plugins.problems:
        raise ConfigError([Problem("(plugins)", 0, "plugins", p) for p in plugins.problems])
    runtime = build_runtime(config, plugins)
    kinds = {name: channel.contact_kind for name, channel in runtime.channels.items()}
    calls = {name for name, channel in runtime.channels.items() if channel.requires_voicemail}
    template_problems = check_template_rules(config, kinds, needs_voicemail=calls)
    if template_problems:
        raise ConfigError(template_problems)
    return runtime


def build_runtime(config: Config, plugins: Plugins) -> Runtime:
    channels: dict[str, Channel] = {}
    for name, settings in config.dispatcher.channels.items():
        if not settings.enabled:
            continue
        cls = plugins.channel_class(settings.plugin)
        channels[name] = cls(name, config.channel_settings[name])
    traits = {
        name: ChannelTraits(name, channel.contact_kind, channel.window_exempt)
        for name, channel in channels.items()
    }
    policy = compile_policy(
        config.policy,
        traits,
        fallback_timezone=config.dispatcher.fallback_timezone,
        after_cease=_after_cease_templates(config),
    )
    return Runtime(
        config=config,
        plugins=plugins,
        channels=channels,
        policy=policy,
        version=config_version(config.root),
        policy_version=policy_version(config),
    )


def _after_cease_templates(config: Config) -> set[tuple[str, str]]:
    """(channel, template) pairs whose template says ``allowed_after_cease = true`` in every
    locale in use (Reg F §1006.6(c): only such final notices may follow a cease request)."""
    allowed: set[tuple[str, str]] = set()
    for schedule in config.schedules.schedules.values():
        for step in schedule.steps:
            metas = [
                config.templates.meta(step.channel, step.template, loc)
                for loc in config.dispatcher.locales
            ]
            if metas and all(m.get("allowed_after_cease") is True for m in metas):
                allowed.add((step.channel, step.template))
    return allowed
