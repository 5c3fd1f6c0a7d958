"""Scale: ``BENCH_CASES`` open cases (default 1,000,000) on one node, loaded through the
product's own ``dispatcher import``, then the real daemon started, ticked, restarted, left
idle, and the claim timed with every row present. See benchmarks/README.md for each figure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import Section
from benchmarks.casefile import (
    DueDates,
    anchor_hour,
    cached_file,
    case_rows,
    first_steps,
    write_rows,
)
from benchmarks.daemon import YEARLY, Daemon, free_port, histogram_quantiles, prepare_config
from benchmarks.e2e_outbox import Deployment, make_deployment
from benchmarks.observe import percentile
from benchmarks.policy_text import describe_policy
from benchmarks.scale_steps import (
    BASELINE_S,
    PROBE_RATE,
    ProbeStream,
    Tick,
    best_of,
    claim_timings,
    is_plan_line,
    planner_tick,
    run_cli,
)
from benchmarks.stores import fresh_store, kind, point_config_at, store_bytes
from dispatcher.store import open_store

DEFAULT_CASES = 1_000_000
QUICK_CASES = 20_000
IDLE_S = 30.0
CLAIM_BATCH = 500
TICK_EVERY_S = 300  # the example's [jobs.plan] cron, */5 * * * *


def scale_size(quick: bool) -> int:
    raw = os.environ.get("BENCH_CASES")
    if raw:
        return max(100, int(raw))
    return QUICK_CASES if quick else DEFAULT_CASES


def run(
    cases: int, *, postgres: str | None = None, quick: bool = False, keep: bool = False
) -> Section:
    """The whole scale run on SQLite, or with ``postgres`` (a base URL) on a fresh schema."""
    root = Path(tempfile.mkdtemp(prefix="dispatcher-bench-scale-"))
    daemons: list[Daemon] = []
    try:
        dep = make_deployment(root)
        with fresh_store(root, postgres) as url:
            section = Section(f"scale, {cases:,} cases, {kind(url)}")
            try:
                _run(dep, url, cases, quick, section, daemons)
            finally:
                for daemon in daemons:  # stopped already, unless a step raised
                    if daemon.running():
                        daemon.stop()
        if keep:
            section.notes.append(f"run directory kept: {root}")
        return section
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _run(
    dep: Deployment, url: str, cases: int, quick: bool, section: Section, daemons: list[Daemon]
) -> None:
    port = free_port()
    point_config_at(dep.config, url)
    prepare_config(dep.config, port=port, plan_cron=YEARLY)
    settings = tomllib.loads((dep.config / "dispatcher.toml").read_text(encoding="utf-8"))
    fallback = settings["fallback_timezone"]
    if not _import(dep, cases, fallback, section):
        return
    timeout = 120 + cases / 1000
    started = datetime.now(UTC) - timedelta(seconds=1)
    daemon = _started(dep, "daemon.log", timeout, daemons, section)
    if daemon is None:
        return
    _first_pass(daemon, started, timeout, section)
    status = best_of(dep.config, 3, "status", log=dep.root / "status.log")
    section.add(
        "`dispatcher status` (best of 3)",
        status.wall_s if status.code == 0 else None,
        "s",
        "",
        3,
    )
    section.add("status in the store (best of 5)", _store_status_ms(url), "ms", "<= 200", 1)
    first = daemons[0].ready_s or 0.0
    idle_tick_cpu = _ticks(daemon, dep, url, (cases, fallback), port, first, section)
    _claim_histogram(port, section)
    ended = daemon.stop()
    section.add("daemon peak RSS, first run", ended.peak_rss_mib, "MiB", decimals=1)
    daemon = _started(dep, "daemon-2.log", timeout, daemons, section)
    if daemon is None:
        return
    _idle(daemon, url, IDLE_S / 3 if quick else IDLE_S, idle_tick_cpu, section)
    ended = daemon.stop()
    section.add("SIGTERM → exit", ended.stop_s, "s", decimals=2)
    size = store_bytes(url)
    section.add("store on disk, all planned", size / 2**20, "MiB", decimals=0)
    section.add("store on disk per open case", size / cases, "bytes", decimals=0)
    _claims(url, dep, cases, section)
    section.notes.append(
        "daemon: `dispatcher --config DIR run` subprocesses with a NOTIFY_SOCKET of the "
        "harness's own (ready = READY=1); [jobs.plan] cron set to once a year, ticks "
        "triggered by SIGHUP (a reload runs the planner job) and timed from the "
        "`config reloaded` line to the planner's line"
    )
    section.blocks.append(("policy in force", describe_policy(dep.config)))


def _first_pass(daemon: Daemon, started: datetime, timeout: float, section: Section) -> None:
    """The first start's planning pass runs after READY=1, in the background: wait for its
    line (the ticks measured next must not queue behind it) and report what it cost."""
    first = daemon.wait_log(is_plan_line, started, timeout)
    if first is None:
        section.notes.append("first planning pass: no planner line within the timeout")
        return
    section.add("first planning pass (after READY=1)", first.get("seconds"), "s", decimals=1)
    section.add("its longest store call", first.get("longest_page_ms"), "ms", "<= 250", 1)


def _import(dep: Deployment, cases: int, fallback: str, section: Section) -> bool:
    """The cached import file through ``dispatcher import``; False if it failed."""
    anchor = anchor_hour()
    dues = DueDates(first_steps(dep.config / "schedules.toml"), anchor)
    generated = time.perf_counter()
    path = cached_file(cases, dues, fallback, anchor)
    section.notes.append(
        f"import file {path.name} ({path.stat().st_size / 2**20:,.0f} MiB; ready in "
        f"{time.perf_counter() - generated:.1f} s, cached per size and hour); first steps due "
        f"from {dues.earliest:%H:%M} UTC over the next day, none during the run"
    )
    imported = run_cli(dep.config, "import", str(path), log=dep.root / "import.log")
    if imported.code != 0:
        _failed(section, "import", imported.output.splitlines()[-10:])
        return False
    section.add("import rows/s (dispatcher import)", cases / imported.wall_s, "1/s", ">= 20,000")
    section.add("import wall time", imported.wall_s, "s", decimals=1)
    section.add("import peak RSS", imported.peak_rss_mib, "MiB", "flat in file size", 1)
    return True


def _started(
    dep: Deployment, log: str, timeout: float, daemons: list[Daemon], section: Section
) -> Daemon | None:
    """The daemon started and ready (its start-to-ready a figure), or None if it did not
    get ready. The first start plans every case; a restart finds them planned."""
    daemon = Daemon(dep.config, dep.root / log)
    daemons.append(daemon)
    daemon.start()
    ready = daemon.wait_ready(timeout)
    step = "first start" if len(daemons) == 1 else "restart"
    if ready is None:
        _failed(section, step, daemon.tail(), daemon)
        return None
    if len(daemons) == 1:
        section.add("first start → READY=1 (plans every case)", ready, "s", decimals=2)
    else:
        section.add("restart → READY=1 (all planned)", ready, "s", "<= 5", 2)
    return daemon


def _ticks(
    daemon: Daemon,
    dep: Deployment,
    url: str,
    size: tuple[int, str],
    port: int,
    first: float,
    section: Section,
) -> float | None:
    """A tick with 1 % new cases to plan while letters stream due, then one with one new
    case; returns the daemon's CPU in the second."""
    cases, fallback = size
    dues = DueDates(first_steps(dep.config / "schedules.toml"), anchor_hour())
    delta = dep.root / "new-cases.csv"
    write_rows(delta, case_rows(cases, max(1, cases // 100), dues, fallback))
    added = run_cli(dep.config, "import", str(delta), log=dep.root / "import-delta.log")
    section.add("import of 1 % new cases, daemon running", added.wall_s, "s", decimals=2)
    timeout = 120 + 3 * first
    probes = int(PROBE_RATE * (BASELINE_S + 15 + 1.5 * first))
    stream = ProbeStream.seed(url, probes)
    tick = planner_tick(daemon, timeout, port=port, stream=stream, outbox=dep.outbox)
    _tick_figures(section, tick, "1 % of cases to plan", "<= 5")
    longest = (tick.logged or {}).get("longest_page_ms")
    section.add("its longest store call (the planner's log)", longest, "ms", "<= 250", 1)
    section.add("longest gap between sends, tick", tick.gap_s, "s", "<= 0.25", 3)
    section.add("longest gap between sends, no tick", tick.baseline_gap_s, "s", decimals=3)
    section.add("longest wait of a letter due in the tick", tick.worst_wait_s, "s", decimals=3)
    section.add("letters sent during the tick", tick.sends_during, "")
    section.add("/readyz slowest answer in the tick", tick.readyz_s, "s", decimals=3)
    if tick.readyz_failed:
        section.notes.append(f"/readyz answered other than 200 {tick.readyz_failed} time(s)")
    if tick.stream_short:
        section.notes.append("the letter stream ended before the tick: gaps are lower bounds")
    section.notes.append(
        f"tick: {max(1, cases // 100):,} new cases imported first (`dispatcher import`, the "
        f"daemon running); {probes:,} letters for new people due {PROBE_RATE:g}/s from "
        f"{BASELINE_S:g} s before the tick, so claims run through it: their send gaps "
        "are the claim stall"
    )
    one = dep.root / "one-case.csv"
    write_rows(one, case_rows(cases + cases // 100 + 1, 1, dues, fallback))
    run_cli(dep.config, "import", str(one), log=dep.root / "import-one.log")
    idle_tick = planner_tick(daemon, timeout, port=port)
    _tick_figures(section, idle_tick, "1 new case to plan", "")
    return idle_tick.cpu_s


def _tick_figures(section: Section, tick: Tick, what: str, target: str) -> None:
    section.add(f"planner tick, {what}", tick.seconds, "s", target, 3)
    section.add("daemon CPU in that tick (with the reload)", tick.cpu_s, "s", decimals=3)
    if tick.problem:
        section.notes.append(f"planner tick ({what}): {tick.problem}")
    elif tick.logged:
        extra = {k: v for k, v in tick.logged.items() if k not in ("ts", "level", "logger")}
        section.notes.append(f"planner tick ({what}) logged {extra}")


def _idle(
    daemon: Daemon, url: str, seconds: float, tick_cpu: float | None, section: Section
) -> None:
    """RSS and CPU share of the daemon over ``seconds`` with nothing due; with the CPU of a
    tick that plans one case, the share a tick every ``TICK_EVERY_S`` adds."""
    store = open_store(url, migrate=False)
    try:
        next_due = store.next_due_at()
    finally:
        store.close()
    time.sleep(2)
    cpu, rss, started = daemon.cpu_s(), daemon.rss_mib(), time.perf_counter()
    while time.perf_counter() - started < seconds and daemon.running():
        time.sleep(1)
        rss = max(rss, daemon.rss_mib())
    share = (daemon.cpu_s() - cpu) / (time.perf_counter() - started)
    section.add(f"idle RSS (max over {seconds:g} s)", rss, "MiB", "<= 150", 1)
    section.add("idle CPU", share * 100, "% core", "<= 2", 2)
    if tick_cpu is not None:
        section.add(
            "idle CPU with a 1-case tick per 5 min",
            (share + tick_cpu / TICK_EVERY_S) * 100,
            "% core",
            decimals=2,
        )
    if next_due and next_due < datetime.now(UTC) + timedelta(seconds=seconds + 5):
        section.notes.append(f"idle: a reminder came due during it ({next_due:%H:%M:%S} UTC)")


def _claim_histogram(port: int, section: Section) -> None:
    found = histogram_quantiles(port, "claim", (0.5, 0.99))
    if found.get("count"):
        for q in (0.5, 0.99):
            section.add(
                f"claim p{q * 100:g}, daemon's {found['name']}",
                found.get(q, 0) * 1e3,
                "ms",
                decimals=1,
            )
    else:
        section.notes.append("the daemon's /metrics has no claim histogram: claims timed alone")


def _store_status_ms(url: str) -> float:
    """The status report's own cost, as the daemon's refresh and the CLI pay it once the
    interpreter is up (the CLI's figure above is mostly Python starting and importing)."""
    store = open_store(url, migrate=False)
    try:
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            store.status(datetime.now(UTC))
            timings.append(time.perf_counter() - began)
        return min(timings) * 1e3
    finally:
        store.close()


def _claims(url: str, dep: Deployment, cases: int, section: Section) -> None:
    batches = max(5, min(100, cases // (2 * CLAIM_BATCH)))
    timings = sorted(claim_timings(url, dep.config, batches, CLAIM_BATCH))
    section.add(f"claim of {CLAIM_BATCH} p50", percentile(timings, 0.5) * 1e3, "ms", decimals=1)
    section.add(f"claim of {CLAIM_BATCH} p99", percentile(timings, 0.99) * 1e3, "ms", "<= 50", 1)
    section.notes.append(
        f"claims: {len(timings)} batches of {CLAIM_BATCH} through the dispatcher's claim stage "
        "(decide + reserve, one store transaction each), daemon stopped, clock two days ahead "
        f"so every planned reminder is due; all {cases:,} cases' rows present"
    )


def _failed(section: Section, step: str, tail: list[str], daemon: Daemon | None = None) -> None:
    section.ok = False
    section.add(f"{step}", "did not finish", "")
    if daemon is not None:
        daemon.stop()
    section.blocks.append((f"{step}: last lines", tail))
