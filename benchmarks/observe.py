"""What the benchmarks read of a daemon from outside: outbox lines as they appear, log
instants, the store's reminders by state, exit usage, and percentiles and rates of it all."""

from __future__ import annotations

import bisect
import json
import os
import re
import resource
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.store import open_store


class OutboxCounter:
    """Counts outbox lines as they appear, reading only what was appended since last time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.offsets: dict[Path, int] = {}
        self.lines = 0

    def poll(self) -> int:
        if not self.directory.exists():
            return 0
        for path in self.directory.glob("*.jsonl"):
            offset = self.offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            # Count complete lines only; a half-written tail is read again next time.
            end = chunk.rfind(b"\n") + 1
            self.lines += chunk.count(b"\n", 0, end)
            self.offsets[path] = offset + end
        return self.lines


def log_instant(log: Path, message: str) -> datetime | None:
    """The ``ts`` of the first log line with ``msg=<message>`` (logfmt or JSON)."""
    if not log.exists():
        return None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("msg") == message:
                return datetime.fromisoformat(item["ts"])
        elif f'msg="{message}"' in line or f"msg={message} " in line:
            match = re.search(r"ts=(\S+)", line)
            if match:
                return datetime.fromisoformat(match.group(1))
    return None


def store_states(url: str) -> tuple[dict[str, int], int]:
    """Reminders by state, and how many are due now (not yet decided)."""
    store = open_store(url, migrate=False)
    try:
        report = store.status(datetime.now(UTC))
    finally:
        store.close()
    states: Counter[str] = Counter()
    for state, _channel, n in report.by_state_channel:
        states[state] += n
    return dict(states), report.due_now


def sent_count(url: str) -> tuple[int, dict[str, int]]:
    """Reminders ``sent``, and every state's count."""
    states, _ = store_states(url)
    return states.get("sent", 0), states


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def rate_over_time(offsets: list[float], duration: float) -> list[str]:
    """Sends per second in up to ~15 equal buckets from dispatch start."""
    if not offsets or duration <= 0:
        return []
    width = max(1.0, round(duration / 12))
    edges = []
    t = 0.0
    while t < max(duration, offsets[-1]):
        edges.append(t)
        t += width
    lines = []
    for start in edges:
        end = start + width
        n = bisect.bisect_left(offsets, end) - bisect.bisect_left(offsets, start)
        bar = "#" * min(60, round(n / width / 100))
        lines.append(f"{start:6.1f}–{end:5.1f} s  {n / width:8,.0f}/s  {bar}")
    return lines


def try_reap(process: subprocess.Popen[bytes]) -> resource.struct_rusage | None:
    """The daemon's own resource usage if it has exited (reaping it), else None: its CPU
    time alone, not every child's (its peak RSS is ``peak_rss_mib``'s, not this one's)."""
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid == 0:
        return None
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak RSS so far (``VmHWM``), None once it is gone. Not ``wait4``'s
    ``ru_maxrss``: Linux counts in it the parent's memory at the fork (the child runs on a
    copy of it until exec), so a child of a big harness would look as big as the harness."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class PeakRss:
    """The largest ``peak_rss_mib`` seen of one process, sampled at most every ``every`` s."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.mib = 0.0
        self._last = 0.0

    def sample(self) -> None:
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self.mib = max(self.mib, peak_rss_mib(self.pid) or 0.0)
