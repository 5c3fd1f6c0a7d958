"""The real daemon in a subprocess: start, send, defer, report, reload, stop."""

from __future__ import annotations

import signal
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment, free_port, http_get, seed, stop, wait_for

ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/Sao_Paulo",
]


def _zones_by_window(now: datetime) -> tuple[list[str], list[str]]:
    """Zones where the example policy's 08:00–21:00 window is open now, and closed (with a
    margin of 30 minutes so the test does not straddle an edge)."""
    open_, closed = [], []
    for zone in ZONES:
        local = now.astimezone(ZoneInfo(zone))
        minutes = local.hour * 60 + local.minute
        if 8 * 60 + 30 <= minutes <= 20 * 60 + 30:
            open_.append(zone)
        elif minutes >= 21 * 60 + 30 or minutes <= 7 * 60 + 30:
            closed.append(zone)
    return open_, closed


def _import_people(dep: Deployment, zones: list[str], per_zone: int) -> None:
    now = datetime.now(UTC)
    store = dep.store()
    people, cases = [], []
    for z, zone in enumerate(zones):
        for i in range(per_zone):
            pid = f"P{z}-{i}"
            people.append(
                PersonIn(
                    id=pid,
                    name=f"Test Person {z} {i}",
                    locale="en",
                    timezone=zone,
                    phones=(f"+1212555{z:02d}{i:02d}",),
                    emails=(f"{pid.lower()}@example.com",),
                )
            )
            # Four days overdue: the day-2 SMS step is past in every zone, day 10 is not.
            cases.append(
                CaseIn(
                    id=f"C{z}-{i}",
                    person_id=pid,
                    amount="250.00",
                    currency="USD",
                    due_date=date.today() - timedelta(days=4),
                    schedule="gentle",
                )
            )
    store.upsert(people, cases, now)
    store.close()


def test_daemon_sends_in_window_defers_quiet_hours_and_explains(deployment: Deployment) -> None:
    dep = deployment
    now = datetime.now(UTC)
    open_zones, closed_zones = _zones_by_window(now)
    assert open_zones and closed_zones, "the zone list always spans day and night"
    _import_people(dep, [open_zones[0], closed_zones[0]], per_zone=5)

    process = dep.start()
    started = time.monotonic()
    try:
        lines = wait_for(lambda: len(dep.outbox_lines()) >= 5 and dep.outbox_lines(), timeout=30)
        assert time.monotonic() - started < 30
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "dispatcher stopped" in output

    sent_cases = {line["case_id"] for line in lines}
    assert sent_cases == {f"C0-{i}" for i in range(5)}, "only people in their window get a send"
    # Full addresses never reach the log.
    for line in lines:
        assert line["to"] not in output

    status = dep.cli("status")
    assert status.returncode == 0, status.stderr
    assert "quiet_hours" in status.stdout
    assert "sent" in status.stdout and "pending" in status.stdout

    explained = dep.cli("explain", "C1-0")
    assert explained.returncode == 0, explained.stderr
    assert "quiet_hours" in explained.stdout
    assert closed_zones[0] in explained.stdout
    assert "decision defer" in explained.stdout
    assert "+1212555" not in explained.stdout, "phone numbers are masked"
    assert "Test Person" not in explained.stdout, "names are masked"

    explained = dep.cli("explain", "C0-0")
    assert "decision send" in explained.stdout and "attempt placed" in explained.stdout


def test_sigterm_drains_and_exits_zero(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 200)
    process = dep.start()
    wait_for(lambda: len(dep.outbox_lines()) >= 1, timeout=30)
    output = stop(process, signal.SIGTERM)
    assert process.returncode == 0, output
    store = dep.store()
    report = store.status(datetime.now(UTC))
    store.close()
    states = {s for s, _, _ in report.by_state_channel}
    assert "claimed" not in states, "a graceful stop leaves nothing claimed"
    assert not report.unknown_attempts


def test_sighup_with_bad_config_keeps_old_one_running(open_deployment: Deployment) -> None:
    dep = open_deployment
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    process = dep.start()
    try:
        # Signals only once the daemon handles them (SIGHUP would otherwise end it).
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout=60)
        good = (dep.config / "policy.toml").read_text()
        dep.write("policy.toml", good + '\n[min_gap]\nevery = "soon"\n')
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: 'result="failure"} 1.0' in http_get(port, "/metrics")[1], timeout=60)
        assert process.poll() is None, "a bad reload must not stop the daemon"
        # The old config still sends.
        seed(dep, 3)
        wait_for(lambda: len(dep.outbox_lines()) == 3, timeout=30)
        dep.write("policy.toml", good)
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: 'result="success"} 1.0' in http_get(port, "/metrics")[1], timeout=60)
    finally:
        output = stop(process)
    assert "reload rejected" in output
    assert "policy.toml" in output and "min_gap" in output
    assert "config reloaded" in output
    assert process.returncode == 0


def test_check_fails_fast_on_bad_config_at_start(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.set("schedules.toml", r'^plan_ahead = ".*"', 'plan_ahead = "tomorrow"')
    result = dep.cli("run", timeout=30)
    assert result.returncode == 2
    assert "schedules.toml:" in result.stderr and "plan_ahead" in result.stderr


def test_a_taken_http_port_is_a_clear_error(open_deployment: Deployment) -> None:
    import socket

    dep = open_deployment
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
        result = dep.cli("run", timeout=30)
    assert result.returncode == 2
    assert "cannot listen" in result.stdout and f"127.0.0.1:{port}" in result.stdout


async def test_a_failure_before_the_loop_runs_still_shuts_down(
    open_deployment: Deployment,
) -> None:
    from dispatcher.daemon import Daemon
    from dispatcher.daemon.notify import Notifier

    class Recorded(Notifier):
        def __init__(self) -> None:
            super().__init__(environ={})
            self.sent: list[str] = []

        def stopping(self) -> None:
            self.sent.append("STOPPING")

    dep = open_deployment
    (dep.root / "a-file").write_text("")
    text = (dep.config / "dispatcher.toml").read_text()
    head, email = text.split("[channels.email]")
    email = email.replace(f'directory = "{dep.outbox}"', f'directory = "{dep.root}/a-file/x"', 1)
    dep.write("dispatcher.toml", head + "[channels.email]" + email)
    notifier = Recorded()
    daemon = Daemon(dep.config, notifier=notifier)
    with pytest.raises(OSError):
        await daemon.run()  # the email channel cannot open
    assert notifier.sent == ["STOPPING"], "the shutdown ran"
    assert daemon.store_thread._pool._shutdown, "the store thread was stopped"  # type: ignore[attr-defined]
    assert daemon.runtime.channels["sms"]._file is None, "the opened channels were closed"  # type: ignore[attr-defined]
