"""Checks that the channel declares itself as the core expects (type name, contact kind,
settings model, coroutines) and is found through its entry point."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

import pytest

from dispatcher.channel import Channel, ChannelSettings
from dispatcher.model import ContactKind
from dispatcher.runtime.plugins import GROUP, ONLY_ENV, load_plugins
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import fail_check

TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class DeclarationChecks(ContractBase):
    """The channel declares itself as a channel must, and its entry point registers it."""

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
            fail_check(problems, f"{cls.__name__} does not declare itself as a channel must:")

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
            fail_check(plugins.problems, f"entry point {name!r} did not load cleanly:")
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
