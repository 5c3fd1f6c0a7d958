"""A loaded configuration made ready to run: plugins found, settings checked, channels built,
policy compiled. The daemon swaps a whole Runtime on reload, never parts of one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from dispatcher.channel import Channel
from dispatcher.config import Config, ConfigError, Problem
from dispatcher.config.dispatcher_file import RetryRule
from dispatcher.config.load import RULE_KEYS, read_config
from dispatcher.config.template_rules import ALLOWED_STATES, check_template_rules
from dispatcher.config.templates import split_template_path
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

    def retry_rule(self, channel: str) -> RetryRule:
        """``channel``'s long retries: its own settings, its plugin's defaults, ``[dispatch]``."""
        built = self.channels.get(channel)
        defaults = type(built).retry_defaults if built is not None else {}
        return self.config.dispatcher.retry_rule(channel, defaults)

    @property
    def resend_on_unknown(self) -> list[str]:
        return [
            name for name, c in self.config.dispatcher.channels.items() if c.on_unknown == "resend"
        ]


def load_runtime(
    root: str | Path,
    *,
    plugins: Plugins | None = None,
    extra_plugins: list[Any] | None = None,
    secrets: bool = True,
) -> Runtime:
    """Load and check the config directory with the installed plugins; raise ConfigError
    listing every problem of every stage at once: the template rules are checked too, on
    whatever of the directory could be read. ``secrets=False`` for commands that send
    nothing: secret references are not resolved (channels get a placeholder)."""
    plugins = plugins or load_plugins(extra_plugins)
    reading = read_config(root, settings_check=plugins.validate_settings, secrets=secrets)
    problems = reading.problems + [Problem("(plugins)", 0, "plugins", p) for p in plugins.problems]
    config = reading.config()
    channels: dict[str, Channel] = {}
    if config is not None:
        channels = build_channels(config, plugins)
        if reading.intact("policy.toml", RULE_KEYS):
            kinds = {name: channel.contact_kind for name, channel in channels.items()}
            calls = {name for name, channel in channels.items() if channel.requires_voicemail}
            problems += check_template_rules(config, kinds, needs_voicemail=calls)
    if problems or config is None:
        raise ConfigError(problems)
    return build_runtime(config, plugins, channels)


def build_channels(config: Config, plugins: Plugins) -> dict[str, Channel]:
    """An instance of each enabled channel whose settings its plugin accepted."""
    channels: dict[str, Channel] = {}
    for name, settings in config.dispatcher.channels.items():
        if settings.enabled and name in config.channel_settings:
            cls = plugins.channel_class(settings.plugin)
            channels[name] = cls(name, config.channel_settings[name])
    return channels


def build_runtime(
    config: Config, plugins: Plugins, channels: dict[str, Channel] | None = None
) -> Runtime:
    """``config`` made ready to run: its channels (built here unless given) and its policy
    compiled for them."""
    if channels is None:
        channels = build_channels(config, plugins)
    traits = {
        name: ChannelTraits(name, channel.contact_kind, channel.window_exempt)
        for name, channel in channels.items()
    }
    policy = compile_policy(
        config.policy,
        traits,
        fallback_timezone=config.dispatcher.fallback_timezone,
        after_cease=_after_cease_templates(config),
        allowed_states=_state_templates(config),
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
    locale in use (Reg F §1006.6(c): only such final notices may follow a cease request).
    Every template of a configured channel counts, not only those a schedule names: an
    ad-hoc final notice (``enqueue``) names its template itself."""
    allowed: set[tuple[str, str]] = set()
    for channel, name in _templates_of_channels(config):
        try:
            metas = [config.templates.meta(channel, name, loc) for loc in config.dispatcher.locales]
        except (LookupError, TemplateError):
            continue  # missing in a locale, or broken: not allowed (check reports the rest)
        if metas and all(m.get("allowed_after_cease") is True for m in metas):
            allowed.add((channel, name))
    return allowed


def _state_templates(config: Config) -> set[tuple[str, str, str]]:
    """(channel, template, state) for each state a template's ``allowed_states`` names in
    every locale in use: the only templates that may go on a bankrupt or deceased case (a
    letter to the estate, to the trustee). ``check`` reports a list it cannot read."""
    allowed: set[tuple[str, str, str]] = set()
    for channel, name in _templates_of_channels(config):
        try:
            metas = [config.templates.meta(channel, name, loc) for loc in config.dispatcher.locales]
        except (LookupError, TemplateError):
            continue
        named = [_states_named(m) for m in metas]
        for state in frozenset(ALLOWED_STATES).intersection(*named):
            allowed.add((channel, name, state))
    return allowed


def _states_named(meta: dict[str, Any]) -> frozenset[str]:
    """The states a template's ``allowed_states`` names (none when it is not a list)."""
    states = meta.get("allowed_states", [])
    if not isinstance(states, list):
        return frozenset()
    return frozenset(s for s in states if isinstance(s, str))


def _templates_of_channels(config: Config) -> set[tuple[str, str]]:
    """(channel, template name) of every template file of a configured channel."""
    found: set[tuple[str, str]] = set()
    for path in Path(config.templates.root).glob("*/*.j2"):
        channel, name, _ = split_template_path(f"{path.parent.name}/{path.name}")
        if channel in config.dispatcher.channels:
            found.add((channel, name))
    return found
