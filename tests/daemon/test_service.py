"""The daemon as systemd runs it: the notify protocol on a real datagram socket, HTTP health
and metrics, reload on SIGHUP (good and bad), SIGTERM under load, and logs free of personal
data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import DISPATCHER, Deployment, free_port, http_get, seed, stop, wait_for


class NotifySocket:
    """A NOTIFY_SOCKET like systemd's: collects every datagram the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode())

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()

    def fields(self) -> list[str]:
        """Every KEY=value field, in order."""
        return [f for m in self.messages for f in m.split("\n")]


def _start(dep: Deployment, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(DISPATCHER), "--config", str(dep.config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=dep.root,
        env={**os.environ, **env},
    )


def test_notify_protocol_in_order(open_deployment: Deployment, tmp_path: Path) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r"^store = ", 'status_interval = "200ms"\nstore = ')
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        process = _start(dep, {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
        wait_for(lambda: any("READY=1" in m for m in notify.messages), timeout=30)
        seed(dep, 5)
        wait_for(lambda: len(dep.outbox_lines()) == 5, timeout=30)
        # The watchdog is pinged from the loop at half the interval.
        wait_for(lambda: notify.fields().count("WATCHDOG=1") >= 3, timeout=10)
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: "RELOADING=1" in notify.fields(), timeout=10)
        wait_for(lambda: notify.fields().count("READY=1") >= 2, timeout=10)
        output = stop(process)
        wait_for(lambda: "STOPPING=1" in notify.fields(), timeout=5)
    finally:
        notify.close()
    assert process.returncode == 0, output
    fields = notify.fields()
    kinds = [f.split("=", 1)[0] for f in fields]
    ready = kinds.index("READY")
    reloading = kinds.index("RELOADING")
    assert ready < reloading < len(kinds) - 1 - kinds[::-1].index("READY")
    assert kinds[-1] == "STOPPING", "STOPPING=1 is the last word"
    assert any(k == "MONOTONIC_USEC" for k in kinds[reloading : reloading + 2])
    statuses = [f for f in fields if f.startswith("STATUS=")]
    assert any(re.search(r"\d+ due, \d+ pending; last send \d{4}-", s) for s in statuses), statuses
    assert kinds.index("WATCHDOG") > ready


def test_health_readiness_and_metrics(open_deployment: Deployment) -> None:
    dep = open_deployment
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    seed(dep, 4)
    process = dep.start()
    try:
        wait_for(lambda: http_get(port, "/healthz")[0] == 200, timeout=30)
        status, body = http_get(port, "/readyz")
        assert status == 200 and '"ready"' in body
        wait_for(lambda: len(dep.outbox_lines()) == 4, timeout=30)
        wait_for(lambda: 'outcome="placed"' in http_get(port, "/metrics")[1], timeout=10)
        _, metrics = http_get(port, "/metrics")
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert 'dispatcher_attempts_total{channel="sms",outcome="placed"} 4.0' in metrics
    assert 'dispatcher_decisions_total{reason="",verdict="send"} 4.0' in metrics
    assert 'dispatcher_send_seconds_count{channel="sms"} 4.0' in metrics
    assert "dispatcher_due_to_send_lag_seconds_bucket" in metrics
    assert re.search(r'dispatcher_config_info\{version="[0-9a-f]{12}"\} 1.0', metrics)
    assert "dispatcher_config_last_reload_success 1.0" in metrics
    for name in ("dispatcher_reminders", "dispatcher_reminders_due", "dispatcher_unknown_attempts"):
        assert f"# TYPE {name} gauge" in metrics


def test_reload_applies_new_policy_and_schedule_and_rejects_a_broken_one(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    open_policy = (dep.config / "policy.toml").read_text()
    dep.write(
        "policy.toml", open_policy + '\n[[limits]]\nchannels = ["sms"]\nmax = 0\nper = "1d"\n'
    )
    process = dep.start()
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout=30)
        seed(dep, 3)
        store = dep.store()
        wait_for(
            lambda: all(r.state.value == "suppressed" for r in store.case_history("C0").reminders),
            timeout=30,
        )
        assert dep.outbox_lines() == [], "sms is limited to 0 by the first policy"

        # A new policy (no limit) and a schedule change, without a restart.
        dep.write("policy.toml", open_policy)
        dep.set(
            "schedules.toml",
            r'channel = "sms",    template = "first_notice"',
            'channel = "email",  template = "overdue_email"',
        )
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: 'result="success"} 1.0' in http_get(port, "/metrics")[1], timeout=15)
        seed(dep, 3, start=3)
        wait_for(lambda: len(dep.outbox_lines()) == 3, timeout=30)
        assert {line["channel"] for line in dep.outbox_lines()} == {"sms"}

        # A broken config: rejected, logged, counted; the running one keeps sending.
        dep.set("policy.toml", r'^jitter = ".*"$', 'jitter = "whenever"')
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: 'result="failure"} 1.0' in http_get(port, "/metrics")[1], timeout=15)
        _, metrics = http_get(port, "/metrics")
        assert "dispatcher_config_last_reload_success 0.0" in metrics
        seed(dep, 2, start=6)
        wait_for(lambda: len(dep.outbox_lines()) == 5, timeout=30)
        store.close()
    finally:
        output = stop(process)
    assert process.returncode == 0
    assert "config reloaded" in output
    assert "reload rejected" in output and "policy.toml" in output and "jitter" in output


def test_schedule_change_reaches_the_planner_on_reload(open_deployment: Deployment) -> None:
    dep = open_deployment
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    process = dep.start()
    try:
        # Signals only once the daemon handles them (SIGHUP would otherwise end it).
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout=60)
        # The gentle ladder's first step becomes an email; a case imported now plans it.
        dep.set(
            "schedules.toml",
            r'day = 2,  channel = "sms",   template = "first_notice",  at = "12:00" \}',
            'day = 2,  channel = "email", template = "overdue_email", at = "12:00" }',
        )
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: _reloads(port, "success") >= 1, timeout=60)
        from tests.daemon.test_lifecycle import _import_people

        _import_people(dep, ["Asia/Shanghai"], per_zone=1)
        process.send_signal(signal.SIGHUP)  # a reload plans at once, no need to wait for cron
        store = dep.store()
        reminders = wait_for(lambda: store.case_history("C0-0").reminders, timeout=60)
        store.close()
    finally:
        stop(process)
    assert [r.channel for r in reminders] == ["email"]


def _reloads(port: int, result: str) -> float:
    """How many reloads ended with ``result``, as /metrics counts them."""
    found = re.search(
        rf'dispatcher_reloads_total\{{result="{result}"\}} ([0-9.]+)',
        http_get(port, "/metrics")[1],
    )
    return float(found.group(1)) if found else 0.0


def test_sigterm_under_load_loses_nothing(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r"^concurrency = \d+", "concurrency = 4")
    seed(dep, 3000)
    process = dep.start()
    wait_for(lambda: len(dep.outbox_lines()) >= 200, timeout=30)
    output = stop(process, signal.SIGTERM)
    assert process.returncode == 0, output
    store = dep.store()
    report = store.status(datetime.now(UTC))
    store.close()
    counts: dict[str, int] = {}
    for state, _, n in report.by_state_channel:
        counts[state] = counts.get(state, 0) + n
    lines = dep.outbox_lines()
    assert sum(counts.values()) == 3000
    assert set(counts) <= {"sent", "pending"}, counts
    assert counts["sent"] == len(lines) == len({line["reminder_id"] for line in lines})
    assert counts.get("pending", 0) > 0, "the stop came mid-run"
    assert not report.unknown_attempts


def test_logs_carry_no_personal_data(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^level = ".*"$', 'level = "debug"')
    seed(dep, 20)
    process = dep.start()
    wait_for(lambda: len(dep.outbox_lines()) == 20, timeout=30)
    output = stop(process)
    assert "msg=sent" in output, "debug logging of each send was on"
    for line in dep.outbox_lines():
        assert line["to"] not in output
        assert line["to"][-8:] not in output, "not even the subscriber part of a number"
    for i in range(20):
        assert f"Person {i}" not in output
        assert f"p{i}@example.com" not in output
