"""The long retries in dispatcher.toml: per channel, then the plugin's defaults, then
``[dispatch]``; a bad value is a config error naming the file and the key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.runtime import load_runtime
from tests.conftest import Deployment


def test_each_channel_falls_back_to_its_plugin_then_to_dispatch(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_UNSUBSCRIBE_SECRET", "a-long-unsubscribe-secret")
    deployment.enable_commented(
        "email", {"host": '"127.0.0.1"', "tls": '"none"'}, leave_out=("username", "password")
    )
    deployment.set("dispatcher.toml", r"^\[channels\.voice\]$", "[channels.voice]\nmax_tries = 2")
    runtime = load_runtime(deployment.config)
    email, sms, voice = (runtime.retry_rule(c) for c in ("email", "sms", "voice"))
    assert (email.after, email.growth, email.give_up_after) == (
        timedelta(minutes=30),
        1.5,
        timedelta(days=4),
    )
    assert (sms.after, sms.growth, sms.max_tries, sms.give_up_after) == (
        timedelta(minutes=15),
        2.0,
        5,
        None,
    )
    assert (voice.after, voice.max_tries) == (timedelta(minutes=15), 2)
    assert email.waited(12) >= timedelta(days=4) > email.waited(11)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("reschedule_growth = 0.5", "channels.sms.reschedule_growth"),
        ("max_tries = 0", "channels.sms.max_tries"),
        ('give_up_after = "soon"', "channels.sms.give_up_after"),
    ],
)
def test_a_bad_retry_setting_is_named(deployment: Deployment, line: str, key: str) -> None:
    deployment.set("dispatcher.toml", r"^\[channels\.sms\]$", f"[channels.sms]\n{line}")
    result = deployment.cli("check")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "dispatcher.toml:" in output and key in output, output
    assert "Traceback" not in output
