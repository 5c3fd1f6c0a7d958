"""Throughput with 1, 2 and 3 daemons on one PostgreSQL store, and one on SQLite for
comparison.

Each run: a fresh store (a schema of its own on PostgreSQL), the e2e deployment (the example
config with every channel on the outbox and one 00:00–24:00 window added for every channel;
the example's preset and limits kept: the output names every rule in force), the daemons
started and ready first, then N due SMS reminders for N distinct people with no history put
in at once, so no limit binds; timed until the store reports all N sent. The sink is the
outbox channel (one buffered append per message), far from the bottleneck. Skipped, with the
reason, when no PostgreSQL answers at $DISPATCHER_TEST_PG (default the local test database).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import ZONES, Section
from benchmarks.e2e_outbox import make_deployment
from benchmarks.observe import sent_count
from benchmarks.policy_text import describe_policy
from benchmarks.stores import PG_BASE, fresh_store, point_config_at
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from dispatcher.store.postgres import unreachable_reason

DISPATCHER = Path(sys.executable).parent / "dispatcher"
RUNS = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3))


def _seed(url: str, count: int) -> None:
    now = datetime.now(UTC)
    store = open_store(url)
    people = [
        PersonIn(
            id=f"P{i}",
            name=f"Person {i}",
            locale="en",
            timezone=ZONES[i % len(ZONES)],
            phones=(f"+86138{i:08d}",),
            emails=(f"p{i}@example.com",),
        )
        for i in range(count)
    ]
    cases = [
        CaseIn(
            id=f"C{i}",
            person_id=f"P{i}",
            amount="100.00",
            currency="CNY",
            due_date=date.today() - timedelta(days=20),
            schedule="standard",
        )
        for i in range(count)
    ]
    store.upsert(people, cases, now)
    store.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="bench",
                step="1",
                channel="sms",
                template="first_notice",
                due_at=now - timedelta(seconds=1),
            )
            for i in range(count)
        ],
        [(f"C{i}", now + timedelta(days=3650)) for i in range(count)],
        now,
    )
    # As the product's import does after a bulk load: these seeders write through the
    # store's API, and without statistics PostgreSQL plans every claim for empty tables.
    store.refresh_statistics()
    store.close()


def _one_run(kind: str, nodes: int, count: int, timeout: float) -> float | None:
    with tempfile.TemporaryDirectory(prefix="dispatcher-scale-") as tmp:
        dep = make_deployment(Path(tmp))
        with fresh_store(Path(tmp), PG_BASE if kind == "postgresql" else None) as url:
            point_config_at(dep.config, url)
            open_store(url).close()  # schema in place before the nodes race to create it
            logs = [Path(tmp) / f"node-{n}.log" for n in range(nodes)]
            processes = [
                subprocess.Popen(
                    [str(DISPATCHER), "--config", str(dep.config), "run"],
                    stdout=log.open("w"),
                    stderr=subprocess.STDOUT,
                    cwd=tmp,
                    env={**os.environ, "DISPATCHER_NODE": f"node-{n}"},
                )
                for n, log in enumerate(logs)
            ]
            try:
                deadline = time.monotonic() + 60
                while not all("dispatcher started" in log.read_text() for log in logs):
                    if time.monotonic() > deadline:
                        return None
                    time.sleep(0.1)
                _seed(url, count)
                started = time.perf_counter()
                deadline = time.monotonic() + timeout
                while sent_count(url)[0] < count:
                    if time.monotonic() > deadline:
                        return None
                    time.sleep(0.05)
                return count / (time.perf_counter() - started)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=60)


def run(count: int, timeout: float = 300) -> Section:
    section = Section("scale-out")
    reason = unreachable_reason(PG_BASE)
    for kind, nodes in RUNS:
        label = f"reminders/s, {kind}, {nodes} node(s)"
        if kind == "postgresql" and reason:
            section.add(label, None, "1/s")
            continue
        section.add(label, _one_run(kind, nodes, count, timeout), "1/s")
    if reason:
        section.notes.append(f"PostgreSQL runs skipped: {reason}")
    section.notes.append(
        f"{count:,} SMS reminders for {count:,} people without a history per run, put in "
        "after every node was up, so no limit binds (the rules in force are below); sink: "
        "outbox; nodes are `dispatcher run` subprocesses sharing the machine's 2 cores with "
        "the database"
    )
    with tempfile.TemporaryDirectory(prefix="dispatcher-scale-") as tmp:
        section.blocks.append(
            ("policy in force", describe_policy(make_deployment(Path(tmp)).config))
        )
    return section
