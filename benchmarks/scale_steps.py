"""The scale run's measured steps, each against a deployment and (where it runs) the daemon:
the product's own CLI timed as a subprocess, a planner tick triggered and timed from the
daemon's log while a stream of due letters shows how long claims stall, and claims timed
through the dispatcher's own claim stage."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.daemon import DISPATCHER, Daemon, ReadyzProbe
from benchmarks.observe import PeakRss
from benchmarks.stores import seed_planned
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

PROBE_RATE = 20.0  # probe letters coming due per second during a tick
BASELINE_S = 10.0  # of the stream before the tick, for the gap between sends without one


@dataclass
class Command:
    """A CLI run: wall time, its peak RSS (sampled ``VmHWM``) and CPU (``wait4``), exit
    code, its output."""

    wall_s: float
    peak_rss_mib: float
    cpu_s: float
    code: int
    output: str


def run_cli(config: Path, *args: str, log: Path) -> Command:
    """``dispatcher --config CONFIG ARGS…`` as a subprocess, reaped with ``wait4``."""
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(DISPATCHER), "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            env=env,
        )
        peak = PeakRss(process.pid, every=0.05)
        while not (reaped := os.wait4(process.pid, os.WNOHANG))[0]:
            peak.sample()
            time.sleep(0.02)
        _, status, usage = reaped
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Command(
        wall,
        peak.mib,
        usage.ru_utime + usage.ru_stime,
        process.returncode,
        log.read_text(encoding="utf-8", errors="replace"),
    )


def best_of(config: Path, runs: int, *args: str, log: Path) -> Command:
    results = [run_cli(config, *args, log=log) for _ in range(runs)]
    return min(results, key=lambda c: (c.code != 0, c.wall_s))


@dataclass
class ProbeStream:
    """``count`` letters for as many new people, due ``PROBE_RATE`` a second from
    ``first_due``. Letters are exempt from windows and the people have no history, so each
    is sent as soon as a claim takes it: the gaps between their sends are claim stalls."""

    count: int
    first_due: datetime

    @classmethod
    def seed(cls, url: str, count: int, lead: float = 3.0) -> ProbeStream:
        """Put the stream in the store (cases marked planned far ahead), due from ``lead``
        seconds from now."""
        stream = cls(count, datetime.now(UTC) + timedelta(seconds=lead))
        now = datetime.now(UTC)
        ids = [(f"QC{i:06d}", f"Q{i:06d}") for i in range(count)]
        people = [
            PersonIn(pid, f"Probe {i}", "en", "Europe/London", addresses=(f"{i} Station Rd",))
            for i, (_, pid) in enumerate(ids)
        ]
        cases = [CaseIn(cid, pid, "120.00", "GBP", date.today(), "standard") for cid, pid in ids]
        reminders = [
            NewReminder(cid, pid, "bench", "probe", "letter", "formal_letter", stream.due(cid))
            for cid, pid in ids
        ]
        seed_planned(url, people, cases, reminders, now)
        return stream

    def due(self, case_id: str) -> datetime:
        return self.first_due + timedelta(seconds=int(case_id[2:]) / PROBE_RATE)

    @property
    def last_due(self) -> datetime:
        return self.first_due + timedelta(seconds=(self.count - 1) / PROBE_RATE)

    def sends(self, outbox: Path) -> list[tuple[datetime, str]]:
        """(at, case id) of every probe letter in the outbox, in order of sending."""
        path = outbox / "letter.jsonl"
        if not path.exists():
            return []
        found = []
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if str(item.get("case_id", "")).startswith("QC"):
                found.append((datetime.fromisoformat(item["at"]), str(item["case_id"])))
        return sorted(found)

    def wait_sent(self, outbox: Path, timeout: float) -> list[tuple[datetime, str]]:
        deadline = time.perf_counter() + timeout
        while len(sends := self.sends(outbox)) < self.count and time.perf_counter() < deadline:
            time.sleep(0.2)
        return sends


def longest_gap(
    instants: list[datetime], start: datetime, end: datetime, *, within: bool = False
) -> float | None:
    """The longest time between two consecutive sends that overlaps [start, end] (with
    ``within``, that lies inside it)."""
    gaps = [
        (b - a).total_seconds()
        for a, b in zip(instants, instants[1:], strict=False)
        if (start <= a and b <= end if within else b > start and a < end)
    ]
    return max(gaps, default=None)


@dataclass
class Tick:
    """A planner tick: its duration from the log, the daemon's CPU over it, and what claims
    and /readyz saw meanwhile."""

    seconds: float | None = None
    created: Any = None
    logged: dict[str, Any] | None = None  # the planner's own line (it may carry a duration)
    cpu_s: float | None = None
    gap_s: float | None = None  # longest gap between sends during the tick
    baseline_gap_s: float | None = None  # the same over the stream before the tick
    worst_wait_s: float | None = None  # longest a probe due during the tick waited
    sends_during: int = 0
    readyz_s: float | None = None
    readyz_failed: int = 0
    stream_short: bool = False  # the probe stream ended before the tick did
    problem: str | None = None


def is_plan_line(event: dict[str, Any]) -> bool:
    return "plann" in str(event.get("msg", "")).lower()


def planner_tick(
    daemon: Daemon,
    timeout: float,
    *,
    port: int,
    stream: ProbeStream | None = None,
    outbox: Path | None = None,
) -> Tick:
    """SIGHUP (a reload runs the planner job the ``[jobs.plan]`` cron runs), timed from the
    ``config reloaded`` line to the planner's next line. With a probe ``stream``, the tick
    waits for ``BASELINE_S`` of it first, and the sends around the tick are measured."""
    tick = Tick()
    if stream is not None:
        wait = (stream.first_due - datetime.now(UTC)).total_seconds() + BASELINE_S
        time.sleep(max(0.0, wait))
    with ReadyzProbe(port) as readyz:
        cpu_before = daemon.cpu_s()
        triggered = datetime.now(UTC) - timedelta(milliseconds=5)
        trigger_perf = time.perf_counter()
        daemon.signal(signal.SIGHUP)
        reload = daemon.wait_log(lambda e: e.get("msg") == "config reloaded", triggered, 60)
        plan = daemon.wait_log(is_plan_line, reload["ts"], timeout) if reload else None
        tick.cpu_s = daemon.cpu_s() - cpu_before if daemon.running() else None
        tick.readyz_s, tick.readyz_failed = readyz.worst(trigger_perf, time.perf_counter())
    if reload is None or plan is None:
        tick.problem = (
            "no `config reloaded` line after SIGHUP"
            if reload is None
            else "no planner line after the reload within the timeout (is one logged?)"
        )
        return tick
    tick.seconds = (plan["ts"] - reload["ts"]).total_seconds()
    tick.created = plan.get("created")
    tick.logged = plan
    if stream is not None and outbox is not None:
        _measure_stream(tick, stream, outbox, triggered, reload["ts"], plan["ts"], timeout)
    return tick


def _measure_stream(
    tick: Tick,
    stream: ProbeStream,
    outbox: Path,
    triggered: datetime,
    start: datetime,
    end: datetime,
    timeout: float,
) -> None:
    sends = stream.wait_sent(outbox, timeout)
    instants = [at for at, _ in sends]
    tick.gap_s = longest_gap(instants, start, end)
    baseline_from = triggered - timedelta(seconds=BASELINE_S - 2)
    tick.baseline_gap_s = longest_gap(instants, baseline_from, triggered, within=True)
    tick.sends_during = sum(1 for at in instants if start <= at <= end)
    waits = [
        (at - stream.due(case_id)).total_seconds()
        for at, case_id in sends
        if start <= stream.due(case_id) <= end
    ]
    tick.worst_wait_s = max(waits, default=None)
    tick.stream_short = stream.last_due < end


def claim_timings(url: str, config: Path, batches: int, limit: int) -> list[float]:
    """Seconds per claim of ``limit`` through the dispatcher's own claim stage, with every
    planned reminder due (the claims' clock set two days ahead), ``batches`` times."""
    from dispatcher.dispatch.claims import claim_due
    from dispatcher.dispatch.store_thread import StoreThread
    from dispatcher.runtime import load_runtime

    runtime = load_runtime(config)
    store = open_store(url)
    thread = StoreThread(store)
    timings: list[float] = []

    async def claims() -> None:
        now = datetime.now(UTC) + timedelta(days=2)
        for _ in range(batches):
            started = time.perf_counter()
            batch = await claim_due(thread, runtime, now, limit, "bench-claims")
            timings.append(time.perf_counter() - started)
            if not batch.decided:
                break

    try:
        asyncio.run(claims())
    finally:
        thread.shutdown()
        store.close()
    return timings
