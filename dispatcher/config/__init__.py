"""Config files → typed models, and one loader that reports every error at once.

A config directory holds ``dispatcher.toml``, ``policy.toml``, ``schedules.toml`` and
``templates/``. ``load_config`` parses and validates all of it (channel settings through each
plugin's own model, templates by rendering them with sample data) and raises ``ConfigError``
listing every problem as ``file:line: key: message``.

The package exports what other layers use; durations, templates, template rules and TOML
line positions are imported from their own modules.
"""

from dispatcher.config.directory import Config
from dispatcher.config.dispatcher_file import ApiSettings, DispatcherFile
from dispatcher.config.load import load_config, load_dispatcher_file
from dispatcher.config.policy_file import PolicyFile
from dispatcher.config.problems import ConfigError, Problem
from dispatcher.config.schedules_file import Schedule, SchedulesFile
from dispatcher.config.secrets import resolve_secret

__all__ = [
    "ApiSettings",
    "Config",
    "ConfigError",
    "DispatcherFile",
    "PolicyFile",
    "Problem",
    "Schedule",
    "SchedulesFile",
    "load_config",
    "load_dispatcher_file",
    "resolve_secret",
]
