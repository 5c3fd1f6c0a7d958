"""The real daemon as a subprocess, observed from outside as systemd and an operator see it.

``Daemon`` spawns ``dispatcher --config DIR run`` with a ``NOTIFY_SOCKET`` of the harness's
own (so READY=1, STATUS= and STOPPING=1 arrive as they would at systemd), samples its CPU and
RSS from ``/proc`` (its peak as ``VmHWM``), reads its JSON log lines, and stops it with
SIGTERM, reaping it with ``wait4`` for its CPU time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.observe import PeakRss

DISPATCHER = Path(sys.executable).parent / "dispatcher"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A [jobs.plan] cron that fires once a year: a benchmark triggers its planner ticks itself, so
# none falls into another measurement by chance.
YEARLY = "0 0 1 1 *"


def prepare_config(config: Path, *, port: int, plan_cron: str | None = None) -> None:
    """Point ``config``'s HTTP listener at ``port``, log JSON lines (read by ``log_events``)
    and, with ``plan_cron``, replace the ``[jobs.plan]`` cron."""
    path = config / "dispatcher.toml"
    text = path.read_text(encoding="utf-8")
    text, listens = re.subn(r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"', text, flags=re.M)
    text, formats = re.subn(r'^format = ".*"', 'format = "json"', text, flags=re.M)
    if listens != 1 or formats != 1:
        raise RuntimeError("dispatcher.toml has no [http] listen or [log] format line")
    path.write_text(text, encoding="utf-8")
    if plan_cron:
        path = config / "schedules.toml"
        text, crons = re.subn(
            r'^(\[jobs\.plan\]\s*\ncron = )".*"',
            rf'\g<1>"{plan_cron}"',
            path.read_text(encoding="utf-8"),
            flags=re.M,
        )
        if crons != 1:
            raise RuntimeError("schedules.toml has no [jobs.plan] cron line")
        path.write_text(text, encoding="utf-8")


def log_events(log: Path) -> list[dict[str, Any]]:
    """The daemon's JSON log lines, each with ``ts`` parsed (non-JSON lines are skipped)."""
    events: list[dict[str, Any]] = []
    if not log.exists():
        return events
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
            item["ts"] = datetime.fromisoformat(item["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        events.append(item)
    return events


@dataclass
class Exit:
    """How the daemon ended: exit code, peak RSS (MiB, sampled ``VmHWM``), CPU (s, from
    ``wait4``), and SIGTERM → exit (s)."""

    code: int | None
    peak_rss_mib: float
    cpu_s: float
    stop_s: float


@dataclass
class Daemon:
    """One ``dispatcher run`` subprocess on ``config``, logging to ``log``."""

    config: Path
    log: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    process: subprocess.Popen[bytes] | None = None
    spawned: float = 0.0  # time.perf_counter() at spawn
    notices: list[tuple[float, str]] = field(default_factory=list)  # (perf_counter, datagram)
    ready_s: float | None = None  # spawn → READY=1
    _peak: PeakRss | None = None
    _usage: Any = None

    def start(self) -> None:
        path = self.log.with_suffix(".notify")
        path.unlink(missing_ok=True)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.2)
        self._listening = True
        threading.Thread(target=self._listen, daemon=True).start()
        env = {k: v for k, v in self.env.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID")}
        env["NOTIFY_SOCKET"] = str(path)
        with self.log.open("a", encoding="utf-8") as log:
            self.spawned = time.perf_counter()
            self.process = subprocess.Popen(
                [str(DISPATCHER), "--config", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
                env=env,
            )
        self._peak = PeakRss(self.process.pid)

    def _listen(self) -> None:
        """Notify datagrams as they come; between them (every 0.2 s), the peak RSS."""
        while self._listening:
            if self._peak is not None:
                self._peak.sample()
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.notices.append((time.perf_counter(), data.decode(errors="replace")))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self._reap(block=False) is None

    def _reap(self, *, block: bool) -> Any:
        """The daemon's rusage once it has exited (reaped with ``wait4``, for its CPU time),
        else None. Never ``Popen.poll``: it would reap it first."""
        assert self.process is not None
        if self._usage is None:
            pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
            if pid:
                self.process.returncode = os.waitstatus_to_exitcode(status)
                self._usage = usage
        return self._usage

    def wait_ready(self, timeout: float) -> float | None:
        """Seconds from spawn to READY=1, or None if it did not come (or the daemon exited)."""
        since = len(self.notices)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and self.running():
            for at, text in self.notices[since:]:
                if "READY=1" in text.split("\n"):
                    self.ready_s = at - self.spawned
                    return self.ready_s
            time.sleep(0.01)
        return None

    def wait_log(
        self, match: Callable[[dict[str, Any]], bool], after: datetime, timeout: float
    ) -> dict[str, Any] | None:
        """The first log event at or after ``after`` that ``match``es, waiting up to
        ``timeout`` for it (None if none came or the daemon exited)."""
        deadline = time.perf_counter() + timeout
        while True:
            for event in log_events(self.log):
                if event["ts"] >= after and match(event):
                    return event
            if time.perf_counter() > deadline or not self.running():
                return None
            time.sleep(0.1)

    def cpu_s(self) -> float:
        """User + system CPU seconds so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def signal(self, sig: signal.Signals) -> None:
        """``os.kill``, not ``Popen.send_signal``: that polls, and would reap the daemon
        before ``wait4`` reads its usage. Until reaped its pid cannot be reused."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def stop(self, timeout: float = 120.0) -> Exit:
        """SIGTERM, wait (then SIGKILL), reap with wait4."""
        assert self.process is not None
        started = time.perf_counter()
        if self._peak is not None:
            self._peak.sample()
        if self.running():
            self.signal(signal.SIGTERM)
        while self.running() and time.perf_counter() - started < timeout:
            time.sleep(0.01)
        if self.running():
            self.signal(signal.SIGKILL)
        usage = self._reap(block=True)
        self._listening = False
        self._socket.close()
        return Exit(
            self.process.returncode,
            self._peak.mib if self._peak else float("nan"),
            usage.ru_utime + usage.ru_stime,
            time.perf_counter() - started,
        )

    def tail(self, lines: int = 15) -> list[str]:
        if not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]


class ReadyzProbe:
    """Polls ``/readyz`` every ``interval`` in a thread: the longest answer (a request waits
    for the store thread while a long store call holds it) and the failed answers."""

    def __init__(self, port: int, interval: float = 0.05) -> None:
        self.url = f"http://127.0.0.1:{port}/readyz"
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []  # (perf_counter at start, s, status)
        self._running = False

    def __enter__(self) -> ReadyzProbe:
        self._running = True
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._running = False
        self._thread.join(timeout=30)

    def _poll(self) -> None:
        while self._running:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    status = answer.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            self.samples.append((started, time.perf_counter() - started, status))
            time.sleep(max(0.0, self.interval - (time.perf_counter() - started)))

    def worst(self, since: float, until: float) -> tuple[float | None, int]:
        """The longest answer between two perf_counter instants, and how many were not 200."""
        inside = [(s, status) for at, s, status in self.samples if since <= at <= until]
        if not inside:
            return None, 0
        return max(s for s, _ in inside), sum(1 for _, status in inside if status != 200)


def histogram_quantiles(port: int, word: str, quantiles: tuple[float, ...]) -> dict[str, Any]:
    """From ``/metrics``: the first histogram whose name contains ``word``, its buckets summed
    over every label, and each quantile estimated within its bucket (linear, as Prometheus's
    ``histogram_quantile`` does). Empty when the daemon exposes no such histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    for family in text_string_to_metric_families(text):
        if family.type != "histogram" or word not in family.name:
            continue
        buckets: dict[float, float] = {}
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                edge = float(sample.labels["le"])
                buckets[edge] = buckets.get(edge, 0.0) + sample.value
        edges = sorted(buckets)
        total = buckets.get(float("inf"), 0.0)
        if not total:
            return {"name": family.name, "count": 0}
        out: dict[str, Any] = {"name": family.name, "count": int(total)}
        for q in quantiles:
            rank, lower, below = q * total, 0.0, 0.0
            for edge in edges:
                if buckets[edge] >= rank:
                    upper = edge if edge != float("inf") else lower
                    share = (rank - below) / max(buckets[edge] - below, 1e-12)
                    out[q] = lower + (upper - lower) * share
                    break
                lower, below = edge, buckets[edge]
        return out
    return {}
