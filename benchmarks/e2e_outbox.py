"""End to end: N due reminders for N distinct people through the real daemon and the outbox.

Setup (not timed): a copy of the example config in a temp dir, with the store and the outbox
directories pointed into it, and a policy that allows every reminder now as far as hours go:
the example's limits, minimum gap and cooldown are kept, its windows are replaced by one
00:00–24:00 window for every channel. People, cases and one reminder each (due in the past) go
in through the store API in bulk; the cases are marked planned far ahead so the daemon's own
planner adds nothing. Every person has a realistic history (``benchmarks.histories``: 0–30
past attempts inside the policy's lookback), so the limits are evaluated against it and defer
some reminders; the rest are sent.

Measured: the real daemon, started as a subprocess exactly as in production
(``dispatcher --config DIR run``), so its figures are not mixed up with this harness's
polling and its memory is its own. The clock starts at the daemon's ``dispatcher started``
log line (store open, recovery, channels, first planning done; the dispatch loop starts
next) and stops when every reminder has been decided (the daemon's ``claimed batch`` lines)
and every send among them is in the outbox and recorded ``sent`` in the store; then SIGTERM.
Process start-up is reported on its own row. Per-send times come from the outbox lines'
``at`` timestamps (same wall clock as the log line). With a PostgreSQL base URL the same run
goes to a fresh schema of its own.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import ZONES, Section
from benchmarks.histories import Owner, describe_sizes, seed_histories
from benchmarks.observe import (
    OutboxCounter,
    PeakRss,
    log_instant,
    percentile,
    rate_over_time,
    store_states,
    try_reap,
)
from benchmarks.policy_text import describe_policy
from benchmarks.stores import fresh_store, kind, point_config_at
from dispatcher.runtime import load_runtime
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config"
DISPATCHER = Path(sys.executable).parent / "dispatcher"
TARGET_PER_S = 3_500
POLL_S = 0.02
QUIET_S = 0.3  # no new outbox line for this long: look whether the rest were deferred
STOP_TIMEOUT_S = 60.0  # the example's drain_timeout is 30 s
SEED = 20261103

# (channel, template, share): every channel and template of the example deployment.
CHANNEL_MIX = (
    ("sms", "first_notice", 50),
    ("voice", "call_script", 15),
    ("email", "overdue_email", 25),
    ("letter", "formal_letter", 10),
)
ALL_DAY_WINDOW = """
# Benchmark: one window around the clock for every channel, so every reminder may go now.
[[windows]]
channels = ["*"]
days = "*"
from = "00:00"
to = "24:00"
"""


@dataclass
class Deployment:
    root: Path
    store: str = ""  # the store URL when it is not the SQLite file under var/

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def db(self) -> Path:
        return self.root / "var" / "dispatcher.db"

    @property
    def outbox(self) -> Path:
        return self.root / "var" / "outbox"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def url(self) -> str:
        return self.store or f"sqlite:///{self.db}"


def _without_tables(text: str, header: str) -> str:
    """``text`` minus every ``header`` table (from its header line to the next header)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped == header
        if not skipping:
            out.append(line)
    return "".join(out)


# The contact each example channel reaches, for its stand-in on the outbox.
CONTACTS = {"sms": "phone", "voice": "phone", "email": "email", "letter": "postal"}


def _channels_on_outbox(text: str, outbox: Path) -> str:
    """Every ``[channels.*]`` table of the example replaced by the outbox, so the figure is
    the dispatcher's own cost, whatever real channels the example configures."""
    names = list(tomllib.loads(text).get("channels", {}))
    head = text.split("\n[channels.", 1)[0]
    return head + "".join(
        f'\n[channels.{name}]\nplugin = "outbox"\ndirectory = "{outbox}"\n'
        f'contact = "{CONTACTS.get(name, "postal")}"\n'
        for name in names
    )


def make_deployment(root: Path) -> Deployment:
    dep = Deployment(root)
    shutil.copytree(EXAMPLE_CONFIG, dep.config, ignore=shutil.ignore_patterns("*.py", "data"))
    path = dep.config / "dispatcher.toml"
    text = _channels_on_outbox(path.read_text(encoding="utf-8"), dep.outbox)
    text, stores = re.subn(r'^store = ".*"$', f'store = "{dep.url}"', text, flags=re.M)
    text, listens = re.subn(r'^listen = ".*"$', 'listen = "127.0.0.1:0"', text, flags=re.M)
    if stores != 1 or listens != 1:
        raise RuntimeError("the example dispatcher.toml no longer has store/listen lines")
    path.write_text(text, encoding="utf-8")
    path = dep.config / "policy.toml"
    policy = _without_tables(path.read_text(encoding="utf-8"), "[[windows]]")
    path.write_text(policy + ALL_DAY_WINDOW, encoding="utf-8")
    return dep


def seed_store(dep: Deployment, count: int) -> tuple[Counter[str], Counter[int]]:
    """``count`` people, each with one open case, one reminder due in the past and a history
    of 0–30 past attempts; returns the reminders per channel and the history sizes."""
    rng = random.Random(SEED)
    owners: list[Owner] = []
    now = datetime.now(UTC)
    people: list[PersonIn] = []
    cases: list[CaseIn] = []
    reminders: list[NewReminder] = []
    channels: Counter[str] = Counter()
    mix = [(c, t) for c, t, _ in CHANNEL_MIX]
    weights = [w for _, _, w in CHANNEL_MIX]
    for i in range(count):
        pid, cid = f"P{i:06d}", f"C{i:06d}"
        zone = ZONES[i % len(ZONES)]
        # NANP 555-01XX numbers are reserved for fiction.
        contacts = {
            "phone": f"+1212555{100 + i % 100:04d}",
            "email": f"p{i}@example.com",
            "postal": f"{1 + i % 250} Mill Lane\nSpringfield",
        }
        owners.append(Owner(pid, cid, zone, contacts))
        people.append(
            PersonIn(
                id=pid,
                name=f"Bench Person {i}",
                locale="zh-CN" if zone == "Asia/Shanghai" else "en",
                timezone=zone,
                phones=(contacts["phone"],),
                emails=(contacts["email"],),
                addresses=(contacts["postal"],),
            )
        )
        cases.append(
            CaseIn(
                id=cid,
                person_id=pid,
                amount=f"{rng.randint(50, 5000)}.{rng.randint(0, 99):02d}",
                currency="USD",
                due_date=date.today() - timedelta(days=rng.randint(1, 40)),
                schedule="standard",
            )
        )
        channel, template = rng.choices(mix, weights=weights)[0]
        channels[channel] += 1
        reminders.append(
            NewReminder(
                case_id=cid,
                person_id=pid,
                schedule="standard",
                step="bench",
                channel=channel,
                template=template,
                # Spread over the last two days, so "oldest first" has an order to keep.
                due_at=now - timedelta(seconds=rng.randint(60, 2 * 86400)),
            )
        )
    store = open_store(dep.url)
    try:
        store.upsert(people, cases, now)
        planned_far = now + timedelta(days=3650)
        store.add_reminders(reminders, [(c.id, planned_far) for c in cases], now)
        lookback = load_runtime(dep.config).policy.lookback
        sizes = seed_histories(store, owners, lookback, now, SEED)
        # As the product's import does after a bulk load: these seeders write through the
        # store's API, and without statistics PostgreSQL plans every claim for empty tables.
        store.refresh_statistics()
    finally:
        store.close()
    return channels, sizes


def daemon_rate(
    dep: Deployment,
    count: int,
    env: dict[str, str],
    finished: Callable[[], bool],
    timeout: float,
    poll: float = 0.1,
) -> float | None:
    """Run the daemon (``dispatcher run``, a subprocess, with ``env``) on ``dep`` until
    ``finished()``; ``count`` per second from its ``dispatcher started`` log line to then, or
    None if it did not finish within ``timeout`` (or exited)."""
    env = {k: v for k, v in env.items() if k != "NOTIFY_SOCKET"}
    with dep.log.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(DISPATCHER), "--config", str(dep.config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=dep.root,
            env=env,
        )
    done: datetime | None = None
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if finished():
                done = datetime.now(UTC)
                break
            time.sleep(poll)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    started = log_instant(dep.log, "dispatcher started")
    if done is None or started is None:
        return None
    return count / (done - started).total_seconds()


def run(
    count: int,
    *,
    keep: bool = False,
    timeout: float | None = None,
    postgres: str | None = None,
) -> Section:
    """Seed ``count`` reminders (and their people's histories), run the daemon until every
    one is decided and every send recorded, and measure; with ``postgres`` (a base URL) on a
    fresh schema of its own."""
    timeout = timeout or max(60.0, count / 200)
    root = Path(tempfile.mkdtemp(prefix="dispatcher-bench-"))
    try:
        dep = make_deployment(root)
        with fresh_store(root, postgres) as url:
            section = Section(f"e2e outbox, {kind(url)}")
            if postgres:
                dep.store = url
                point_config_at(dep.config, url)
            seeded_at = time.perf_counter()
            channels, sizes = seed_store(dep, count)
            seed_s = time.perf_counter() - seeded_at
            _measure(dep, count, timeout, section)
        mix = ", ".join(f"{c} {channels[c]:,}" for c, _, _ in CHANNEL_MIX)
        section.notes.append(
            f"{count:,} reminders for {count:,} people in {len(ZONES)} time zones ({mix}); "
            f"{describe_sizes(sizes)}, inside the policy's lookback and none in the last "
            f"5 h; store seeded in {seed_s:.1f} s (not timed)"
        )
        section.notes.append(
            "daemon run as a subprocess (`dispatcher --config DIR run`), stopped with SIGTERM; "
            "config batch_size/concurrency as in the example dispatcher.toml; the example's "
            "windows replaced by one 00:00–24:00 window for every channel"
        )
        section.blocks.append(("policy in force", describe_policy(dep.config)))
        if keep:
            section.notes.append(f"run directory kept: {root}")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return section


def _measure(dep: Deployment, count: int, timeout: float, section: Section) -> None:
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)  # never talk to a real systemd from a benchmark
    counter = OutboxCounter(dep.outbox)
    spawned_wall = datetime.now(UTC)
    spawned = time.perf_counter()
    with dep.log.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [str(DISPATCHER), "--config", str(dep.config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=dep.root,
            env=env,
        )
    done_wall: datetime | None = None
    usage: resource.struct_rusage | None = None
    peak = PeakRss(process.pid)
    states: dict[str, int] = {}
    lines_seen, grew_at = 0, datetime.now(UTC)
    try:
        deadline = spawned + timeout
        # Outbox lines first (cheap, no lock taken); the store only once every reminder may
        # have gone (N lines) or the outbox has been quiet for QUIET_S (the rest deferred).
        while time.perf_counter() < deadline and (usage := try_reap(process)) is None:
            peak.sample()
            written = counter.poll()
            if written != lines_seen:
                lines_seen, grew_at = written, datetime.now(UTC)
            quiet = (datetime.now(UTC) - grew_at).total_seconds() >= QUIET_S
            if written and (written >= count or quiet):
                states, due_now = store_states(dep.url)
                if due_now == 0 and not states.get("claimed") and states.get("sent") == written:
                    done_wall = grew_at
                    break
            time.sleep(POLL_S)
    finally:
        stop_started = time.perf_counter()
        peak.sample()
        if usage is None:
            process.send_signal(signal.SIGTERM)
        while usage is None and time.perf_counter() - stop_started < STOP_TIMEOUT_S:
            time.sleep(0.01)
            usage = try_reap(process)
        if usage is None:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        stop_s = time.perf_counter() - stop_started
    # Sampled VmHWM, not wait4's ru_maxrss: that counts this harness's memory at the fork.
    peak_rss_mib = peak.mib
    # CPU is steadier than wall-clock rates on a shared machine: compare versions by it.
    cpu_s = usage.ru_utime + usage.ru_stime

    started_wall = log_instant(dep.log, "dispatcher started")
    if done_wall is None or started_wall is None:
        section.ok = False
        section.add("correct", "did not finish", "", "yes")
        tail = dep.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        section.notes.append(
            f"did not finish: daemon exit code {process.returncode}, "
            f"{counter.poll():,} of {count:,} outbox lines, store states {states or '?'}"
        )
        section.blocks.append(("daemon log (last lines)", tail))
        return

    lines: list[dict[str, object]] = []
    for path in sorted(dep.outbox.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            lines.extend(json.loads(line) for line in handle if line.strip())
    offsets = sorted(
        (datetime.fromisoformat(str(line["at"])) - started_wall).total_seconds() for line in lines
    )
    reminder_ids = {line["reminder_id"] for line in lines}
    attempt_ids = {line["attempt_id"] for line in lines}
    final_states, _ = store_states(dep.url)
    sent = final_states.get("sent", 0)
    deferred = final_states.get("pending", 0)

    duration = (done_wall - started_wall).total_seconds()
    rate = count / duration
    section.add("reminders/s end to end (decided)", rate, "1/s", f">= {TARGET_PER_S:,}")
    section.add("sends/s end to end", sent / duration, "1/s")
    section.add("sent", sent, "")
    section.add("deferred by the policy (history)", deferred, "")
    section.add("time to decide all, send and record", duration, "s", decimals=2)
    section.add(
        "daemon start-up (spawn → started)",
        (started_wall - spawned_wall).total_seconds(),
        "s",
        decimals=2,
    )
    section.add(
        "reminders/s incl. start-up", count / (done_wall - spawned_wall).total_seconds(), "1/s"
    )
    section.add("first send after start", offsets[0] if offsets else None, "s", decimals=3)
    section.add("send time since start p50", percentile(offsets, 0.50), "s", decimals=2)
    section.add("send time since start p95", percentile(offsets, 0.95), "s", decimals=2)
    section.add("send time since start p99", percentile(offsets, 0.99), "s", decimals=2)
    section.add("last send after start", offsets[-1] if offsets else None, "s", decimals=2)
    span = offsets[-1] - offsets[0] if len(offsets) > 1 else 0.0
    section.add("send rate first → last send", (len(offsets) - 1) / span if span else None, "1/s")
    section.add("peak RSS of the daemon", peak_rss_mib, "MiB", "<= 200", 1)
    section.add("daemon CPU, user + sys, spawn → exit", cpu_s, "s", decimals=2)
    section.add("daemon CPU per reminder (start-up included)", cpu_s / count * 1e6, "µs", "<= 300")
    section.add("SIGTERM → exit", stop_s, "s", decimals=2)
    section.add("daemon exit code", str(process.returncode), "", "0")

    exact = (
        len(lines) == sent
        and len(reminder_ids) == sent
        and len(attempt_ids) == sent
        and sum(final_states.values()) == count
        and set(final_states) <= {"sent", "pending", "suppressed"}
    )
    section.add("correct (lines = ids = sent; all decided)", "yes" if exact else "NO", "", "yes")
    section.notes.append(
        f"check: {len(lines):,} outbox lines, {len(reminder_ids):,} distinct reminder ids, "
        f"{len(attempt_ids):,} distinct attempt ids, store states {final_states}"
    )
    section.blocks.append(
        ("send rate over time since dispatch start", rate_over_time(offsets, duration))
    )
