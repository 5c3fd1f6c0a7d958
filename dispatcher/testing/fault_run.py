"""One store fault under load, end to end, for the fault tests and benchmark: daemons started
on a deployment, due reminders spread over the run, the fault applied (a ``TcpProxy`` mode,
a write lock held on a SQLite file) for some seconds and lifted, then every node's /readyz
watched until it is 200 again and the reminders watched until all are sent; the daemons are
stopped and the outcome counted: process exits, reminders lost and sent twice (outbox lines
per reminder), the readiness seen during the fault and the seconds to recover.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

DISPATCHER = Path(sys.executable).parent / "dispatcher"
BEFORE = 2.0  # seconds of sending before the fault
AFTER = 3.0  # seconds of reminders falling due after it


@dataclass
class FaultResult:
    """What one run counted (see the module's doc)."""

    reminders: int
    exits: int = 0  # daemons that ended before they were stopped, or not with status 0
    lost: int = 0  # reminders never sent
    duplicates: int = 0  # outbox lines beyond the first for their reminder
    not_ready_during: bool = False  # every node answered 503 during the fault
    reasons: list[str] = field(default_factory=list)  # the 503 reasons seen
    recovery_seconds: float | None = None  # fault lifted → every node ready again
    resumed: bool = False  # sends went on after the fault by themselves
    slowest_ready_ms: float = 0.0  # the slowest /readyz answer during the fault
    logs: list[str] = field(default_factory=list)


class SqliteWriteLock:
    """Another process's writer, as ``sqlite3`` holds it: ``BEGIN EXCLUSIVE`` on the file,
    held from ``start`` to ``stop``."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._conn.execute("BEGIN EXCLUSIVE")

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


def seed_spread(url: str, count: int, spread: float) -> None:
    """``count`` people with a case and an SMS reminder each, falling due evenly over the
    next ``spread`` seconds (the first ones now)."""
    now = datetime.now(UTC)
    store = open_store(url)
    try:
        store.upsert(
            [
                PersonIn(
                    id=f"P{i}",
                    name=f"Person {i}",
                    locale="en",
                    timezone="Asia/Shanghai",
                    phones=(f"+86138{i:08d}",),
                )
                for i in range(count)
            ],
            [
                CaseIn(
                    id=f"C{i}",
                    person_id=f"P{i}",
                    amount="100.00",
                    currency="CNY",
                    due_date=date.today() - timedelta(days=30),
                    schedule="adhoc-only",
                )
                for i in range(count)
            ],
            now,
        )
        store.add_reminders(
            [
                NewReminder(
                    case_id=f"C{i}",
                    person_id=f"P{i}",
                    schedule="fault",
                    step="1",
                    channel="sms",
                    template="first_notice",
                    due_at=now - timedelta(seconds=1) + timedelta(seconds=spread * i / count),
                )
                for i in range(count)
            ],
            [(f"C{i}", now + timedelta(days=3650)) for i in range(count)],
            now,
        )
    finally:
        store.close()


def outbox_reminders(outbox: Path) -> Counter[int]:
    """Outbox lines per reminder id (a line cut by a crash is skipped)."""
    seen: Counter[int] = Counter()
    for path in sorted(outbox.glob("*.jsonl")) if outbox.exists() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                seen[json.loads(line)["reminder_id"]] += 1
            except (ValueError, KeyError):
                continue
    return seen


def readiness(port: int) -> tuple[int, str]:
    """GET /readyz → (status, detail); (0, "") when nothing answers within 2 s."""
    try:
        url = f"http://127.0.0.1:{port}/readyz"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read()).get("detail", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}").get("detail", "")
    except OSError:
        return 0, ""


def wait_until(condition: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    """Poll ``condition`` until true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


class _Node:
    def __init__(self, config: Path, root: Path, name: str) -> None:
        self.log = root / f"{name}.log"
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            [str(DISPATCHER), "--config", str(config), "run"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=root,
            env={**os.environ, "DISPATCHER_NODE": name},
        )
        handle.close()
        self.port = 0

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def listening(self) -> bool:
        found = re.search(r"http listening.*?listen=\S*?:(\d+)", self.text())
        if found:
            self.port = int(found.group(1))
        return bool(found) and "dispatcher started" in self.text()


def run_fault(
    config: Path,
    root: Path,
    outbox: Path,
    store_url: str,
    *,
    nodes: int,
    reminders: int,
    seconds: float,
    begin: Callable[[], None],
    end: Callable[[], None],
) -> FaultResult:
    """Run daemons on ``config`` (whose store is reached through the fault), ``reminders``
    due over the run (written at ``store_url``, the store reached directly), ``begin`` the
    fault once sends are under way and ``end`` it ``seconds`` later; count the outcome."""
    result = FaultResult(reminders)
    running = [_Node(config, root, f"node-{n}") for n in range(nodes)]
    try:
        if not wait_until(lambda: all(n.listening() for n in running), 60):
            raise RuntimeError("a daemon did not start:\n" + "\n".join(n.text() for n in running))
        seed_spread(store_url, reminders, BEFORE + seconds + AFTER)
        wait_until(lambda: sum(outbox_reminders(outbox).values()) >= min(50, reminders), 60)
        begin()
        watched = _watch_fault(running, seconds, result)
        end()
        lifted = time.monotonic()
        at_end = sum(outbox_reminders(outbox).values())
        if wait_until(lambda: all(readiness(n.port)[0] == 200 for n in running), 60, 0.05):
            result.recovery_seconds = round(time.monotonic() - lifted, 2)
        result.resumed = wait_until(lambda: sum(outbox_reminders(outbox).values()) > at_end, 60)
        wait_until(lambda: len(outbox_reminders(outbox)) >= reminders, 120, 0.25)
        result.not_ready_during = all(watched)
    finally:
        for node in running:
            if node.process.poll() is None:
                node.process.terminate()
            else:
                result.exits += 1  # ended by itself
        for node in running:
            try:
                code = node.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.process.kill()
                code = node.process.wait()
            if code != 0:
                result.exits += 1
            result.logs.append(node.text())
    sent = outbox_reminders(outbox)
    result.lost = reminders - len(sent)
    result.duplicates = sum(sent.values()) - len(sent)
    return result


def _watch_fault(running: list[_Node], seconds: float, result: FaultResult) -> list[bool]:
    """During the fault, poll every node's /readyz (on a thread each, so one slow answer
    delays no other); returns whether each said 503 at least once."""
    said_503 = [False] * len(running)
    deadline = time.monotonic() + seconds

    def watch(index: int, node: _Node) -> None:
        while time.monotonic() < deadline:
            asked = time.perf_counter()
            status, detail = readiness(node.port)
            took = (time.perf_counter() - asked) * 1000
            result.slowest_ready_ms = round(max(result.slowest_ready_ms, took), 1)
            if status == 503:
                said_503[index] = True
                if detail not in result.reasons and len(result.reasons) < 20:
                    result.reasons.append(detail)
            time.sleep(0.2)

    threads = [threading.Thread(target=watch, args=(i, n)) for i, n in enumerate(running)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return said_503
