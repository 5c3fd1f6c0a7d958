"""``dispatcher reload`` against the real daemon (a subprocess): a good config is applied and its
version shows in ``status --json`` and /metrics (exit 0); a bad one is refused with every
problem (exit 1) and the daemon keeps sending with the old one; either way the console shows
the version in force. No daemon, no token or a wrong one is exit 2. SIGHUP still reloads the
same way."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator

import pytest

from dispatcher.runtime.versions import config_version
from tests.conftest import Deployment, http_get, seed, stop, wait_for

TOKEN = "reload-test-" + "7" * 24
Running = tuple[Deployment, int, subprocess.Popen[str]]


@pytest.fixture
def daemon(
    open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Deployment, int, subprocess.Popen[str]]]:
    """The daemon on a known port, its token (the example's write token) in the environment
    it and the commands share."""
    dep = open_deployment
    port = dep.listen_on_free_port()
    monkeypatch.setenv("DISPATCHER_API_TOKEN", TOKEN)
    monkeypatch.delenv("DISPATCHER_TOKEN", raising=False)
    process = dep.start()
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout=60)
        yield dep, port, process
    finally:
        output = stop(process)
        assert process.returncode == 0, output


def _status(dep: Deployment) -> dict:
    result = dep.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _console_version(port: int) -> str:
    """The config version the console's overview shows, after logging in with the token as
    a browser does (the login form's CSRF cookie, then the session cookie)."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    base = f"http://127.0.0.1:{port}/ui"
    with opener.open(f"{base}/login", timeout=10) as page:
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
    assert csrf, "the login form carries its CSRF value"
    form = urllib.parse.urlencode({"csrf": csrf.group(1), "token": TOKEN}).encode()
    with opener.open(f"{base}/login", data=form, timeout=10) as page:
        overview = page.read().decode()
    found = re.search(r'<code id="config-version">(\w+)</code>', overview)
    assert found, overview[:2000]
    return found.group(1)


def _metric(port: int, pattern: str) -> str | None:
    found = re.search(pattern, http_get(port, "/metrics")[1], re.MULTILINE)
    return found.group(1) if found else None


def test_a_good_config_is_applied_and_its_version_is_visible(
    daemon: Running,
) -> None:
    dep, port, _ = daemon
    started = _status(dep)["daemon"]
    assert started["reachable"] and started["last_reload"]["source"] == "start"
    assert _console_version(port) == started["config"]
    dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "2m"')
    new = config_version(dep.config)
    assert new != started["config"]

    result = dep.cli("reload")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"reloaded: config {new}"
    shown = _status(dep)["daemon"]
    assert shown["config"] == new
    assert (shown["last_reload"]["source"], shown["last_reload"]["ok"]) == ("http", True)
    assert _metric(port, r'^dispatcher_config_info\{version="(\w+)"\} 1\.0$') == new
    assert _metric(port, r'^dispatcher_reloads_total\{result="success"\} (\S+)$') == "1.0"
    stamp = _metric(port, r"^dispatcher_config_last_reload_success_timestamp_seconds (\S+)$")
    assert stamp is not None and float(stamp) > 0
    text = dep.cli("status").stdout
    assert f"config {new}, last reload" in text and "(http): success" in text
    assert _console_version(port) == new  # the console shows the version now in force


def test_a_bad_config_is_refused_with_its_problems_and_the_old_one_keeps_sending(
    daemon: Running,
) -> None:
    dep, port, _ = daemon
    running = _status(dep)["daemon"]["config"]
    dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "whenever"')
    # A mistake in dispatcher.toml too: [http] and [api] are still read to find the daemon.
    dep.set("dispatcher.toml", r"^batch_size = \d+", 'batch_size = "many"')

    result = dep.cli("reload")

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("policy.toml:") and "jitter" in line for line in lines), lines
    assert any(line.startswith("dispatcher.toml:") and "batch_size" in line for line in lines)
    assert lines[-1] == f"reload refused: 2 problem(s); the daemon keeps config {running}"
    assert "Traceback" not in result.stderr
    assert _metric(port, r"^dispatcher_config_last_reload_success (\S+)$") == "0.0"
    assert _metric(port, r'^dispatcher_config_info\{version="(\w+)"\} 1\.0$') == running
    assert _console_version(port) == running

    as_json = dep.cli("reload", "--json")
    assert as_json.returncode == 1
    record = json.loads(as_json.stdout)
    assert (record["ok"], record["version"], len(record["problems"])) == (False, running, 2)

    dep.set("dispatcher.toml", r'^batch_size = "many"', "batch_size = 100")
    seed(dep, 3)
    wait_for(lambda: len(dep.outbox_lines()) == 3, timeout=30)  # the old config sends


def test_sighup_still_reloads_and_leaves_the_same_record(daemon: Running) -> None:
    dep, _, process = daemon
    dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "1m"')
    process.send_signal(signal.SIGHUP)
    wait_for(lambda: _status(dep)["daemon"]["last_reload"]["source"] == "signal", timeout=30)
    shown = _status(dep)["daemon"]
    assert shown["config"] == config_version(dep.config) and shown["last_reload"]["ok"]


def test_without_a_daemon_or_a_token_it_is_exit_2(
    open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = open_deployment
    port = dep.listen_on_free_port()
    monkeypatch.delenv("DISPATCHER_API_TOKEN", raising=False)
    monkeypatch.delenv("DISPATCHER_TOKEN", raising=False)
    result = dep.cli("reload")
    assert result.returncode == 2 and "no token" in result.stderr
    monkeypatch.setenv("DISPATCHER_TOKEN", TOKEN)
    result = dep.cli("reload")
    assert result.returncode == 2 and f"no answer from http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    status = _status(dep)
    assert status["daemon"]["reachable"] is False


def test_a_wrong_token_is_exit_2_and_changes_nothing(
    daemon: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep, _, _ = daemon
    monkeypatch.setenv("DISPATCHER_TOKEN", "not-the-token")
    dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "3m"')
    result = dep.cli("reload")
    assert result.returncode == 2 and "401" in result.stderr and "unknown token" in result.stderr
    assert _status(dep)["daemon"]["last_reload"]["source"] == "start"
