"""Several daemons on one PostgreSQL store: the work spreads, limits hold cluster-wide,
nothing is sent twice or lost — also when one node is killed mid-run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatcher.policy import decide
from dispatcher.runtime import load_runtime
from dispatcher.store import open_store, schema
from tests.conftest import DISPATCHER, Deployment, stop, wait_for
from tests.store.test_store import placed

PEOPLE = 500
PER_PERSON = 10
DAILY_MAX = 3
TIGHT_POLICY = f"""
preset = "none"
jitter = "0s"
window_exempt = ["letter"]

[[windows]]
channels = ["*"]
from = "00:00"
to = "24:00"

[[limits]]
channels = ["*"]
max = {DAILY_MAX}
per = "1d"
scope = "person"
"""


def _fill(dep: Deployment, url: str, people: int = PEOPLE) -> None:
    from datetime import date

    from dispatcher.store.api import CaseIn, NewReminder, PersonIn

    now = datetime.now(UTC)
    store = open_store(url)
    store.upsert(
        [
            PersonIn(
                id=f"P{i}",
                name=f"Person {i}",
                locale="en",
                timezone="Asia/Shanghai",
                phones=(f"+86138{i:08d}",),
            )
            for i in range(people)
        ],
        [
            CaseIn(
                id=f"C{i}",
                person_id=f"P{i}",
                amount="10",
                currency="CNY",
                due_date=date.today() - timedelta(days=30),
                schedule="none",
            )
            for i in range(people)
        ],
        now,
    )
    store.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="load",
                step=str(k),
                channel="sms",
                template="first_notice",
                due_at=now - timedelta(minutes=1, seconds=k),
            )
            for i in range(people)
            for k in range(PER_PERSON)
        ],
        [(f"C{i}", now + timedelta(days=3650)) for i in range(people)],
        now,
    )
    store.close()


def _states(url: str) -> dict[int, tuple[str, str]]:
    store = open_store(url, migrate=False)
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            select(schema.reminders.c.id, schema.reminders.c.person_id, schema.reminders.c.state)
        ).all()
    store.close()
    return {r.id: (r.person_id, r.state) for r in rows}


def _start(dep: Deployment, node: str) -> subprocess.Popen[str]:
    log = (dep.root / f"{node}.log").open("a")
    return subprocess.Popen(
        [str(DISPATCHER), "--config", str(dep.config), "run"],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=dep.root,
        env={**os.environ, "DISPATCHER_NODE": node},
    )


def _log(dep: Deployment, node: str) -> str:
    path = dep.root / f"{node}.log"
    return path.read_text() if path.exists() else ""


def _start_all(dep: Deployment, url: str) -> list[subprocess.Popen[str]]:
    """Three nodes, all up before the work arrives, so each gets a share."""
    nodes = [_start(dep, f"node-{n}") for n in range(3)]
    wait_for(lambda: all("dispatcher started" in _log(dep, f"node-{n}") for n in range(3)))
    _fill(dep, url)
    return nodes


def _check(dep: Deployment, url: str) -> dict[str, int]:
    states = _states(url)
    assert len(states) == PEOPLE * PER_PERSON, "a reminder was lost"
    lines = dep.outbox_lines()
    per_reminder = Counter(line["reminder_id"] for line in lines)
    assert not [rid for rid, n in per_reminder.items() if n > 1], "a reminder was sent twice"
    per_person = Counter(line["person_id"] for line in lines)
    worst = max(per_person.values())
    assert worst <= DAILY_MAX, f"a person got {worst} contacts in a day"
    counts = Counter(state for _, state in states.values())
    assert set(counts) <= {"sent", "pending", "unknown"}, counts
    for rid, (_, state) in states.items():
        if state == "sent":
            assert per_reminder[rid] == 1
        elif state == "pending":
            assert per_reminder[rid] == 0
    return dict(counts)


@pytest.fixture
def cluster(open_deployment: Deployment, pg_url: str) -> tuple[Deployment, str]:
    dep = open_deployment
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{pg_url}"')
    dep.set("dispatcher.toml", r"^batch_size = \d+", "batch_size = 100")
    dep.write("policy.toml", TIGHT_POLICY)
    return dep, pg_url


def _settled(url: str) -> bool:
    states = _states(url)
    per_person = Counter(p for p, s in states.values() if s in ("sent", "unknown"))
    return (
        len(per_person) == PEOPLE
        and all(n >= DAILY_MAX for n in per_person.values())
        and not any(s == "claimed" for _, s in states.values())
    )


def test_three_daemons_share_the_work_and_the_limits(cluster: tuple[Deployment, str]) -> None:
    dep, url = cluster
    nodes = _start_all(dep, url)
    try:
        wait_for(lambda: _settled(url), timeout=120, interval=0.5)
    finally:
        for p in nodes:
            stop(p)
    outputs = [_log(dep, f"node-{n}") for n in range(3)]
    assert all(p.returncode == 0 for p in nodes), outputs
    counts = _check(dep, url)
    assert counts == {"sent": PEOPLE * DAILY_MAX, "pending": PEOPLE * (PER_PERSON - DAILY_MAX)}
    # Every node did part of the work.
    sent_by = [int(re.search(r"sent=(\d+)", o).group(1)) for o in outputs]  # type: ignore[union-attr]
    assert all(n > 0 for n in sent_by), sent_by


def test_a_node_killed_mid_run_loses_nothing_and_sends_nothing_twice(
    cluster: tuple[Deployment, str],
) -> None:
    dep, url = cluster
    nodes = _start_all(dep, url)
    try:
        wait_for(lambda: len(dep.outbox_lines()) >= 300, timeout=60)
        nodes[0].send_signal(signal.SIGKILL)
        nodes[0].wait(timeout=10)
        time.sleep(0.3)
        nodes[0] = _start(dep, "node-0")  # the same node comes back and settles its claims
        wait_for(lambda: _settled(url), timeout=120, interval=0.5)
    finally:
        for p in nodes:
            stop(p)
    counts = _check(dep, url)
    assert counts.get("sent", 0) + counts.get("unknown", 0) == PEOPLE * DAILY_MAX


def test_claims_are_exclusive_per_person_across_store_instances(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Four store instances (four connection pools, as four nodes) claim concurrently; the
    # limit of 3 per person must hold although all of them decide at once.
    import shutil

    from tests.conftest import EXAMPLE_CONFIG

    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    (config / "policy.toml").write_text(TIGHT_POLICY)
    policy = load_runtime(config).policy
    dep = Deployment(tmp_path)
    people = 150
    _fill(dep, pg_url, people)
    now = datetime.now(UTC)
    errors: list[BaseException] = []

    def node(name: str) -> None:
        store = open_store(pg_url)
        try:
            while True:
                batch = store.claim_due(
                    now,
                    25,
                    lambda r, p, c, h: decide(policy, r, p, c, h, now),
                    policy.lookback,
                    node=name,
                )
                if not batch.decided:
                    return
                store.record(placed(batch.claims, now, channel="sms"), node=name)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=node, args=(f"n{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    states = _states(pg_url)
    sent = Counter(p for p, s in states.values() if s == "sent")
    assert len(sent) == people and set(sent.values()) == {DAILY_MAX}
