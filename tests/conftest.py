"""Shared fixtures: a config directory of the example deployment on a real SQLite file, and
helpers to run the real daemon in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from dispatcher.store.postgres import unreachable_reason

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config"
DISPATCHER = Path(sys.executable).parent / "dispatcher"

# Test runs see only the built-in plugins, whatever else is installed.
BUILT_IN_PLUGINS = "outbox,email,sms,voice,letter"
os.environ.setdefault("DISPATCHER_PLUGINS", BUILT_IN_PLUGINS)

OPEN_ALL_DAY = """
preset = "none"
jitter = "0s"
window_exempt = ["letter"]

[[windows]]
channels = ["*"]
from = "00:00"
to = "24:00"
"""


class Deployment:
    """A config directory in a temp dir, its store and its outbox."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.db = root / "var" / "dispatcher.db"
        self.outbox = root / "var" / "outbox"
        self.url = f"sqlite:///{self.db}"

    def set(self, file: str, pattern: str, replacement: str) -> None:
        path = self.config / file
        text = path.read_text()
        new, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count, f"{pattern!r} not found in {file}"
        path.write_text(new)

    def write(self, file: str, text: str) -> None:
        (self.config / file).write_text(text)

    def enable_commented(
        self,
        channel: str,
        values: dict[str, str] | None = None,
        *,
        leave_out: tuple[str, ...] = (),
    ) -> str:
        """Swap ``[channels.<channel>]``'s outbox lines for the commented block under them,
        as dispatcher.toml tells an admin to. ``values`` replace settings (TOML values; a key
        the block lacks is added); ``leave_out`` keys stay commented. Returns the block."""
        text = (self.config / "dispatcher.toml").read_text()
        head, header, section = text.partition(f"[channels.{channel}]\n")
        assert header, f"no [channels.{channel}] in dispatcher.toml"
        section, bracket, rest = section.partition("\n[")
        lines = []
        for line in section.splitlines():
            if line.startswith(("plugin = ", "directory = ", "contact = ")):
                continue
            setting = re.match(r"^# ([a-z_]+) = (.*)$", line)
            if setting and setting.group(1) in leave_out:
                continue
            lines.append(f"{setting.group(1)} = {setting.group(2)}" if setting else line)
        block = "\n".join(lines)
        for key, value in (values or {}).items():
            block, found = re.subn(rf"^{key} = .*$", f"{key} = {value}", block, flags=re.M)
            if not found:
                block += f"\n{key} = {value}"
        self.write("dispatcher.toml", head + header + block + "\n" + bracket + rest)
        return block

    def listen_on_free_port(self) -> int:
        """Have the daemon listen on a port free now, known to the test (the fixture's port
        0 is chosen by the daemon, and commands cannot ask it); returns the port."""
        port = free_port()
        self.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
        return port

    def store(self):  # type: ignore[no-untyped-def]
        return open_store(self.url)

    def outbox_lines(self) -> list[dict]:
        lines: list[dict] = []
        if not self.outbox.exists():
            return lines
        for path in sorted(self.outbox.glob("*.jsonl")):
            with path.open(encoding="utf-8") as handle:
                lines.extend(json.loads(line) for line in handle if line.strip())
        return lines

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DISPATCHER), "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def start(
        self,
        *extra: str,
        stdout: IO[str] | int = subprocess.PIPE,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """The daemon, its output (stderr too) on ``stdout``, ``env`` added to its
        environment."""
        return subprocess.Popen(
            [str(DISPATCHER), "--config", str(self.config), "run", *extra],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.root,
            env={**os.environ, **(env or {})},
        )


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    """A copy of the example deployment whose store and outbox live in a temp dir."""
    return make_deployment(tmp_path)


def make_deployment(root: Path) -> Deployment:
    """A copy of the example deployment in ``root``: its store and outbox there, its HTTP
    server on a port the daemon picks."""
    shutil.copytree(EXAMPLE_CONFIG, root / "config", ignore=shutil.ignore_patterns("data"))
    dep = Deployment(root)
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{dep.url}"')
    dep.set("dispatcher.toml", r'^directory = ".*"$', f'directory = "{dep.outbox}"')
    # A free port per daemon, so tests never collide with each other or a running daemon.
    dep.set("dispatcher.toml", r'^listen = ".*"$', 'listen = "127.0.0.1:0"')
    return dep


@pytest.fixture
def open_deployment(deployment: Deployment) -> Deployment:
    """The example deployment with a policy that allows every hour, no limits, no jitter."""
    deployment.write("policy.toml", OPEN_ALL_DAY)
    return deployment


def seed(
    dep: Deployment,
    count: int,
    *,
    due: datetime | None = None,
    start: int = 0,
    channel: str = "sms",
    zone: str = "Asia/Shanghai",
) -> None:
    """``count`` people with one case and one due reminder each."""
    now = datetime.now(UTC)
    due = due or now - timedelta(minutes=1)
    store = dep.store()
    people = [
        PersonIn(
            id=f"P{i}",
            name=f"Person {i}",
            locale="en",
            timezone=zone,
            phones=(f"+86138{i:08d}",),
            emails=(f"p{i}@example.com",),
            addresses=(f"{i} Example Road",),
        )
        for i in range(start, start + count)
    ]
    cases = [
        CaseIn(
            id=f"C{i}",
            person_id=f"P{i}",
            amount="100.00",
            currency="CNY",
            due_date=date.today() - timedelta(days=30),
            schedule="adhoc-only",
        )
        for i in range(start, start + count)
    ]
    store.upsert(people, cases, now)
    # Mark the cases planned far ahead so the planner adds nothing of its own.
    store.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="test",
                step="1",
                channel=channel,
                template="first_notice",
                due_at=due,
            )
            for i in range(start, start + count)
        ],
        [(f"C{i}", now + timedelta(days=3650)) for i in range(start, start + count)],
        now,
    )
    store.close()


# A wait's timeout says how long a quiet machine may take; it is stretched this many times, so a
# test on a machine kept busy by other work (a process starts in seconds there, not in tenths)
# still waits for its condition. It only lengthens a failing test: a wait ends when its
# condition holds.
PATIENCE = float(os.environ.get("DISPATCHER_TEST_PATIENCE", "4"))


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30) -> str:
    """Signal the daemon, wait for it, return its output."""
    if process.poll() is None:
        process.send_signal(sig)
    timeout *= PATIENCE
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"daemon did not stop within {timeout}s:\n{output}") from None
    return output or ""


def shanghai_today() -> date:
    """Today where the example people live, at the moment of asking: a module constant goes
    stale when a run crosses midnight there (16:00 UTC)."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def wait_for(predicate, timeout: float = 30, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout``
    (stretched by ``PATIENCE``)."""
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path → (status, body)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


PG_BASE = os.environ.get("DISPATCHER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on the test PostgreSQL, in a schema of its own, dropped afterwards."""
    reason = unreachable_reason(PG_BASE)
    if reason:
        pytest.skip(reason)
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
