"""Store faults under load: PostgreSQL refusing, resetting and hanging (through a TCP proxy
between the daemons and the server) for 5 s, 30 s and 5 min with one daemon and with three,
and a SQLite file another writer holds locked for 30 s and 5 min with one. Each run: a fresh
store, the example deployment on the outbox with every hour open, reminders falling due all
through the run; the fault begins once sends are under way. Figures per run: daemons that
exited, reminders lost, reminders sent twice (outbox lines per reminder), whether every node
said 503 during the fault, the slowest /readyz answer, and the seconds from the fault's end
until every node is ready again. ``--quick`` leaves out the 5-minute runs. Skipped, with the
reason, when no PostgreSQL answers at $DISPATCHER_TEST_PG (the SQLite runs still run).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import Section
from benchmarks.e2e_outbox import make_deployment
from benchmarks.stores import PG_BASE, fresh_store, point_config_at
from dispatcher.store import open_store
from dispatcher.store.postgres import unreachable_reason
from dispatcher.testing.fault_run import FaultResult, SqliteWriteLock, run_fault
from dispatcher.testing.tcp_proxy import TcpProxy

MODES = ("refuse", "reset", "hang")
NODES = (1, 3)
OPEN_POLICY = """
preset = "none"
jitter = "0s"

[[windows]]
channels = ["*"]
from = "00:00"
to = "24:00"
"""


def durations(quick: bool) -> tuple[int, ...]:
    return (5, 30) if quick else (5, 30, 300)


def reminders_for(seconds: int) -> int:
    """Enough reminders that sends fall due all through the run: at least 3,000."""
    return max(3000, 20 * seconds)


def _postgres_run(root: Path, mode: str, seconds: int, nodes: int) -> FaultResult:
    dep = make_deployment(root)
    (dep.config / "policy.toml").write_text(OPEN_POLICY, encoding="utf-8")
    with fresh_store(root, PG_BASE) as url:
        open_store(url).close()  # the schema made before the proxy stands between
        proxy = TcpProxy(_port(url)).start()
        try:
            point_config_at(dep.config, re.sub(r":\d+/", f":{proxy.port}/", url, count=1))
            return run_fault(
                dep.config,
                root,
                dep.outbox,
                url,
                nodes=nodes,
                reminders=reminders_for(seconds),
                seconds=seconds,
                begin=lambda: proxy.set_mode(mode),  # type: ignore[arg-type]
                end=lambda: proxy.set_mode("pass"),
            )
        finally:
            proxy.close()


def _sqlite_run(root: Path, seconds: int) -> FaultResult:
    dep = make_deployment(root)
    (dep.config / "policy.toml").write_text(OPEN_POLICY, encoding="utf-8")
    with fresh_store(root, None) as url:
        point_config_at(dep.config, url)
        open_store(url).close()
        lock = SqliteWriteLock(url.removeprefix("sqlite:///"))
        return run_fault(
            dep.config,
            root,
            dep.outbox,
            url,
            nodes=1,
            reminders=reminders_for(seconds),
            seconds=seconds,
            begin=lock.start,
            end=lock.stop,
        )


def _port(url: str) -> int:
    found = re.search(r"@[^/:]+:(\d+)/", url)
    return int(found.group(1)) if found else 5432


def _figures(section: Section, label: str, result: FaultResult) -> None:
    section.add(f"{label}: daemons exited", result.exits, "", "0")
    section.add(f"{label}: reminders lost", result.lost, f"of {result.reminders:,}", "0")
    section.add(f"{label}: sent twice", result.duplicates, "", "0")
    section.add(f"{label}: /readyz 503 on every node", "yes" if result.not_ready_during else "no")
    section.add(f"{label}: slowest /readyz", result.slowest_ready_ms, "ms", "<= 100", 1)
    section.add(f"{label}: ready again after", result.recovery_seconds, "s", "<= 5", 2)
    section.add(f"{label}: sends resumed", "yes" if result.resumed else "no")
    if result.reasons:
        section.notes.append(f"{label}: {result.reasons[0]}")


def _each(section: Section, label: str, run: Callable[[Path], FaultResult]) -> None:
    print(f"  {label} …", flush=True)
    with tempfile.TemporaryDirectory(prefix="dispatcher-faults-") as tmp:
        result = run(Path(tmp))
    _figures(section, label, result)
    if result.exits or result.lost or result.duplicates or result.recovery_seconds is None:
        section.ok = False
        section.blocks.append((f"{label}: last log lines", result.logs[-1].splitlines()[-10:]))


def run(quick: bool = False) -> Section:
    """Every fault run, one section of figures."""
    section = Section("store faults under load")
    reason = unreachable_reason(PG_BASE)
    for seconds in durations(quick):
        if reason is None:
            for mode in MODES:
                for nodes in NODES:
                    label = f"PostgreSQL {mode} {seconds} s, {nodes} node{'s' * (nodes > 1)}"
                    _each(
                        section,
                        label,
                        lambda root, m=mode, s=seconds, n=nodes: _postgres_run(root, m, s, n),
                    )
        if seconds >= 30:
            _each(
                section, f"SQLite locked {seconds} s", lambda root, s=seconds: _sqlite_run(root, s)
            )
    if reason is not None:
        section.notes.append(f"PostgreSQL runs skipped: {reason}")
    return section
