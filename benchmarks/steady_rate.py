"""Steady rate: reminders coming due at a steady ``RATE`` a second for ``DURATION`` seconds,
through the real daemon and the outbox.

Setup (not timed): the e2e deployment (example config, every channel on the outbox, one
00:00–24:00 window, the example's limits kept); RATE × DURATION people, one case each (marked
planned far ahead) and one reminder each, pre-planned with ``due_at`` spread evenly over the
run, which starts ``LEAD_S`` after seeding so the daemon is ready and idle before the first
comes due. Nobody has a history, so every reminder is sent as soon as it is claimed.

Measured: due → handed of every reminder (its outbox line's ``at`` minus its ``due_at``), the
daemon's CPU from ``/proc`` over the run (first due → last line written), per reminder and as
a share of one core, and the claim transactions it took (the daemon's ``claimed batch``
lines, when it logs them).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import ZONES, Section
from benchmarks.daemon import YEARLY, Daemon, free_port, log_events, prepare_config
from benchmarks.e2e_outbox import (
    CHANNEL_MIX,
    Deployment,
    make_deployment,
)
from benchmarks.observe import OutboxCounter, percentile
from benchmarks.policy_text import describe_policy
from benchmarks.stores import fresh_store, kind, point_config_at, seed_planned
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

RATE = 500
DURATION_S = 60
QUICK_DURATION_S = 10
LEAD_S = 20.0
SEED = 20261204


def steady_size(quick: bool) -> tuple[int, int]:
    """(reminders per second, seconds): ``BENCH_STEADY_RATE``, ``BENCH_STEADY_S``."""
    rate = int(os.environ.get("BENCH_STEADY_RATE", RATE))
    default = QUICK_DURATION_S if quick else DURATION_S
    return rate, int(os.environ.get("BENCH_STEADY_S", default))


def _seed(url: str, rate: int, seconds: int, first_due: datetime) -> None:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    count = rate * seconds
    mix = [(c, t) for c, t, _ in CHANNEL_MIX]
    weights = [w for *_, w in CHANNEL_MIX]
    people, cases, reminders = [], [], []
    for i in range(count):
        pid, cid = f"S{i:06d}", f"SC{i:06d}"
        zone = ZONES[i % len(ZONES)]
        people.append(
            PersonIn(
                pid,
                f"Steady Person {i}",
                "zh-CN" if zone == "Asia/Shanghai" else "en",
                zone,
                phones=(f"+1312555{100 + i % 100:04d}",),
                emails=(f"s{i}@example.com",),
                addresses=(f"{1 + i % 250} Harbour Road\nSydney NSW",),
            )
        )
        cases.append(CaseIn(cid, pid, "480.00", "USD", date.today() - timedelta(days=9), "gentle"))
        channel, template = rng.choices(mix, weights=weights)[0]
        due = first_due + timedelta(seconds=i / rate)
        reminders.append(NewReminder(cid, pid, "bench", "steady", channel, template, due))
    seed_planned(url, people, cases, reminders, now)


def run(rate: int, seconds: int, *, postgres: str | None = None, keep: bool = False) -> Section:
    root = Path(tempfile.mkdtemp(prefix="dispatcher-bench-steady-"))
    try:
        dep = make_deployment(root)
        with fresh_store(root, postgres) as url:
            section = Section(f"steady {rate}/s, {kind(url)}")
            _run(dep, url, rate, seconds, section)
        section.blocks.append(("policy in force", describe_policy(dep.config)))
        if keep:
            section.notes.append(f"run directory kept: {root}")
        return section
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _run(dep: Deployment, url: str, rate: int, seconds: int, section: Section) -> None:
    port = free_port()
    point_config_at(dep.config, url)
    prepare_config(dep.config, port=port, plan_cron=YEARLY)
    count = rate * seconds
    first_due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    _seed(url, rate, seconds, first_due)
    daemon = Daemon(dep.config, dep.root / "daemon.log")
    daemon.start()
    try:
        ready = daemon.wait_ready(LEAD_S * 3)
        if ready is None:
            section.ok = False
            section.add("daemon ready", "did not start", "")
            section.blocks.append(("daemon log (last lines)", daemon.tail()))
            return
        time.sleep(max(0.0, (first_due - datetime.now(UTC)).total_seconds()))
        cpu, wall, rss = _through(daemon, OutboxCounter(dep.outbox), count, seconds + 60)
    finally:
        daemon.stop()
    lags = sorted(_lags(dep.outbox, first_due, rate))
    section.ok = len(lags) == count
    section.add("reminders handed to the outbox", len(lags), "", f"{count:,}")
    section.add("due → handed p50", percentile(lags, 0.5) * 1e3, "ms", decimals=1)
    section.add("due → handed p99", percentile(lags, 0.99) * 1e3, "ms", "<= 100", 1)
    section.add("due → handed max", (lags[-1] if lags else float("nan")) * 1e3, "ms", decimals=1)
    section.add("daemon CPU, share of one core", cpu / wall * 100, "%", "<= 30", 1)
    section.add("daemon CPU per reminder", cpu / max(len(lags), 1) * 1e6, "µs")
    section.add("daemon RSS at the end", rss, "MiB", decimals=1)
    claims = [
        e for e in log_events(dep.log) if e.get("msg") == "claimed batch" and e.get("decided")
    ]
    if claims:
        section.add("claim transactions per second", len(claims) / wall, "1/s", decimals=1)
        section.add("reminders per claim", len(lags) / len(claims), "", decimals=1)
    section.notes.append(
        f"{count:,} reminders for as many people, due {rate}/s over {seconds} s (ready "
        f"{ready:.1f} s after spawn, idle until the first came due); CPU from /proc over "
        f"first due → last line ({wall:.1f} s)"
    )


def _through(
    daemon: Daemon, counter: OutboxCounter, count: int, timeout: float
) -> tuple[float, float, float]:
    """Wait for ``count`` outbox lines; the daemon's CPU seconds and the wall time it took,
    and its RSS (MiB) at the end."""
    cpu_start, wall_start = daemon.cpu_s(), time.perf_counter()
    deadline = wall_start + timeout
    while counter.poll() < count and time.perf_counter() < deadline and daemon.running():
        time.sleep(0.05)
    return daemon.cpu_s() - cpu_start, time.perf_counter() - wall_start, daemon.rss_mib()


def _lags(outbox: Path, first_due: datetime, rate: int) -> list[float]:
    lags = []
    for path in outbox.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            due = first_due + timedelta(seconds=int(str(item["case_id"])[2:]) / rate)
            lags.append((datetime.fromisoformat(item["at"]) - due).total_seconds())
    return lags
