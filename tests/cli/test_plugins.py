"""``plugins --json``: every plugin with its channel types, distribution, version and where it
was found."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.runtime.versions import PROGRAM_VERSION


def test_plugins_as_json() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["problems"] == []
    by_name = {plugin["name"]: plugin for plugin in body["plugins"]}
    assert set(by_name) == {"outbox", "email", "sms", "voice", "letter"}
    sms = by_name["sms"]
    assert (sms["distribution"], sms["version"]) == ("dispatcher", PROGRAM_VERSION)
    assert sms["channels"] == ["twilio-sms"] and sms["module"] == "dispatcher_plugins.sms"
    assert sms["location"].endswith("sms")
