"""The plugin manager: entry points of the group ``dispatcher``, built-ins included."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from dispatcher import hookspecs
from dispatcher.channel import Channel

GROUP = "dispatcher"
ONLY_ENV = "DISPATCHER_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    channels: tuple[str, ...] = ()
    location: str = "?"  # the plugin's package directory or module file


@dataclass
class Plugins:
    """The loaded plugins and the channel classes they registered."""

    manager: pluggy.PluginManager
    channel_types: dict[str, type[Channel]] = field(default_factory=dict)
    info: list[PluginInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def channel_class(self, type_name: str) -> type[Channel]:
        """The class for ``plugin = type_name``; KeyError when no plugin provides it."""
        return self.channel_types[type_name]

    def validate_settings(self, type_name: str, settings: dict[str, Any]) -> Any:
        return self.channel_class(type_name).Settings.model_validate(settings)


def _location(module_name: str) -> str:
    path = getattr(sys.modules.get(module_name), "__file__", None)
    if not path:
        return "?"
    file = Path(path)
    return str(file.parent if file.name == "__init__.py" else file)


def _selected(eps: list[EntryPoint]) -> list[EntryPoint]:
    only = os.environ.get(ONLY_ENV, "").strip()
    if not only:  # unset or empty: every installed plugin
        return eps
    names = {n.strip() for n in only.split(",") if n.strip()}
    return [ep for ep in eps if ep.name in names]


def load_plugins(extra: list[Any] | None = None) -> Plugins:
    """Load every plugin of the entry-point group (or those named in DISPATCHER_PLUGINS),
    plus ``extra`` plugin objects (for tests), and collect their channel classes."""
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    plugins = Plugins(manager)
    for ep in _selected(list(entry_points(group=GROUP))):
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not stop the daemon
            plugins.problems.append(f"plugin {ep.name} ({ep.value}) failed to load: {exc}")
            continue
        manager.register(module, name=ep.name)
        dist = ep.dist
        plugins.info.append(
            PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist.name if dist else "?",
                version=dist.version if dist else "?",
                location=_location(ep.module),
            )
        )
    for index, obj in enumerate(extra or []):
        manager.register(obj, name=f"extra-{index}")
        module = obj.__name__ if isinstance(obj, type(sys)) else type(obj).__module__
        plugins.info.append(
            PluginInfo(f"extra-{index}", repr(obj), "(in process)", "-", location=_location(module))
        )

    registered: dict[str, list[str]] = {}
    for impl in manager.hook.register_channels.get_hookimpls():
        into = registered.setdefault(impl.plugin_name, [])

        def register(cls: type[Channel], _into: list[str] = into) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Channel)):
                raise TypeError(f"{cls!r} is not a Channel subclass")
            if cls.type_name in plugins.channel_types:
                plugins.problems.append(f"channel type {cls.type_name!r} registered twice")
                return
            plugins.channel_types[cls.type_name] = cls
            _into.append(cls.type_name)

        impl.function(register=register)
    plugins.info = [replace(i, channels=tuple(registered.get(i.name, ()))) for i in plugins.info]
    return plugins
