"""A validated config directory as one object: its three files, its templates and each
channel's plugin settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.config.dispatcher_file import DispatcherFile
from dispatcher.config.policy_file import PolicyFile
from dispatcher.config.schedules_file import SchedulesFile


@dataclass
class Config:
    """A validated config directory."""

    root: Path
    dispatcher: DispatcherFile
    policy: PolicyFile
    schedules: SchedulesFile
    templates: Any = None  # config.templates.TemplateSet, attached by load_config
    channel_settings: dict[str, Any] = field(default_factory=dict)  # name → plugin model

    @property
    def store_url(self) -> str:
        return self.dispatcher.store
