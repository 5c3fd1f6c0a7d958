"""Plugin discovery: every plugin comes with its distribution, version, channel types and the
place its code was found, and ``dispatcher plugins`` shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.runtime.plugins import load_plugins
from tests import scripted_channel
from tests.conftest import REPO, Deployment

FIELD_VISIT = REPO / "examples" / "dispatcher-fieldvisit" / "dispatcher_fieldvisit"


def test_each_plugin_says_where_it_was_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,field-visit")
    plugins = load_plugins(extra=[scripted_channel.plugin])
    info = {i.name: i for i in plugins.info}

    assert (info["outbox"].distribution, info["outbox"].channels) == ("dispatcher", ("outbox",))
    assert Path(info["outbox"].location) == REPO / "plugins" / "outbox"
    visit = info["field-visit"]
    assert (visit.distribution, visit.version) == ("dispatcher-fieldvisit", "0.1.0")
    assert (visit.module, visit.channels) == ("dispatcher_fieldvisit", ("field-visit",))
    assert Path(visit.location) == FIELD_VISIT
    assert Path(info["extra-0"].location) == REPO / "tests" / "scripted_channel.py"


def test_only_the_named_entry_points_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "field-visit")
    plugins = load_plugins()
    assert [i.name for i in plugins.info] == ["field-visit"]
    assert set(plugins.channel_types) == {"field-visit"}


def test_plugins_command_lists_version_channels_and_location(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,field-visit")
    result = deployment.cli("plugins")
    assert result.returncode == 0, result.stderr
    block = result.stdout.split("\nfield-visit\n")[1]
    assert "  channel types  field-visit\n" in block
    assert "  distribution   dispatcher-fieldvisit 0.1.0\n" in block
    assert f"  found in       {FIELD_VISIT}" in block
