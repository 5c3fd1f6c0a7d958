"""Run every benchmark and print one table: ``python -m benchmarks [--quick] [--only NAME]``.

Figures only: nothing is asserted, and a figure below its target still exits 0. The exit
status is 1 only when a benchmark could not run to completion (the daemon failed to start or
did not send everything in time), because then there is no figure to print.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks import Section, e2e_size, format_table
from benchmarks.stores import bench_store

NAMES = ("policy", "e2e", "scale", "steady", "scale-out", "email", "sms", "faults", "kills")
# Policy decisions per end-to-end reminder: enough passes for a stable rate in a few seconds.
POLICY_PER_E2E = 10
REPO = Path(__file__).resolve().parents[1]


def _revision() -> str:
    """The checked-out commit (with ``+changes`` when the tree differs), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _guarded(name: str, run: Callable[[], list[Section]]) -> list[Section]:
    """``run``'s sections; one saying why when it raised (the code it measures may have
    changed under it), so every other benchmark still prints its figures."""
    try:
        return run()
    except Exception as exc:
        section = Section(name, ok=False)
        section.add("ran to completion", "no", "", "yes")
        section.notes.append(f"stopped by {type(exc).__name__}: {exc}")
        section.blocks.append(("traceback (last lines)", traceback.format_exc().splitlines()[-8:]))
        return [section]


def _say(text: str) -> None:
    print(text, flush=True)


def _benchmarks(args: argparse.Namespace, n: int) -> list[tuple[str, Callable[[], list[Section]]]]:
    """Each benchmark by its ``--only`` name, in the order they run. Each imports its module
    when it runs, so `--help` stays instant and one benchmark's imports don't warm another."""

    def policy() -> list[Section]:
        from benchmarks import policy_decisions

        _say("running policy decisions …")
        return [policy_decisions.run(n * POLICY_PER_E2E)]

    def e2e() -> list[Section]:
        from benchmarks import e2e_outbox

        _say(f"running end to end with {n:,} reminders …")
        sqlite = e2e_outbox.run(n, keep=args.keep)
        if not (postgres := bench_store()):
            return [sqlite]
        _say(f"running end to end on PostgreSQL with {n:,} reminders …")
        on_postgres = e2e_outbox.run(n, keep=args.keep, postgres=postgres)
        _add_ratio(sqlite, on_postgres)
        return [sqlite, on_postgres]

    def scale_run() -> list[Section]:
        from benchmarks import scale

        cases = scale.scale_size(args.quick)
        _say(f"running scale with {cases:,} open cases …")
        return [scale.run(cases, postgres=bench_store(), quick=args.quick, keep=args.keep)]

    def steady() -> list[Section]:
        from benchmarks import steady_rate

        rate, seconds = steady_rate.steady_size(args.quick)
        _say(f"running steady rate, {rate}/s for {seconds} s …")
        return [steady_rate.run(rate, seconds, keep=args.keep)]

    def scale_out_run() -> list[Section]:
        from benchmarks import scale_out

        _say(f"running scale-out with {max(1, n // 4):,} reminders per run …")
        return [scale_out.run(max(1, n // 4))]

    def email() -> list[Section]:
        from benchmarks import email_throughput

        _say(f"running email throughput with {max(1, n // 4):,} messages …")
        return [email_throughput.run(max(1, n // 4), keep=args.keep)]

    def sms() -> list[Section]:
        from benchmarks import sms_throughput

        _say(f"running SMS throughput with {max(1, n // 4):,} messages …")
        return [sms_throughput.run(max(1, n // 4))]

    def faults() -> list[Section]:
        from benchmarks import faults as store_faults

        if args.only != "faults":
            return []  # many minutes long: run when asked for by name only
        _say("running store faults under load (minutes; --quick leaves out the 5-minute runs) …")
        return [store_faults.run(args.quick)]

    def kills() -> list[Section]:
        from benchmarks import kills

        if args.only != "kills":
            return []  # ten minutes long: run when asked for by name only
        _say(f"running {kills.KILLS} SIGKILLs during an email burst …")
        return [kills.run(keep=args.keep)]

    return [
        ("policy", policy),
        ("e2e", e2e),
        ("scale", scale_run),
        ("steady", steady),
        ("scale-out", scale_out_run),
        ("email", email),
        ("sms", sms),
        ("faults", faults),
        ("kills", kills),
    ]


def _add_ratio(sqlite: Section, postgres: Section) -> None:
    """PostgreSQL's end-to-end rate as a share of SQLite's in the same run."""
    name = "reminders/s end to end (decided)"
    ours, theirs = postgres.value(name), sqlite.value(name)
    ratio = ours / theirs if ours and theirs else None
    postgres.add("PostgreSQL / SQLite reminders/s", ratio, "", ">= 0.6", 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK", "") not in ("", "0"),
        help="small sizes (also BENCH_QUICK=1); BENCH_N=<reminders> sets the size directly",
    )
    parser.add_argument(
        "--only",
        choices=NAMES,
        help="run one benchmark",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the end-to-end run directory for inspection"
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="a PostgreSQL base URL (also BENCH_STORE): the scale run on it, and the "
        "end-to-end run on it too, with its ratio to SQLite",
    )
    args = parser.parse_args(argv)
    if args.store:
        os.environ["BENCH_STORE"] = args.store

    n = e2e_size(args.quick)
    # Figures move with the code and with whatever else the machine is doing: say which.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"dispatcher benchmarks at {_revision()}: N={n:,} reminders; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"{platform.system()} {platform.machine()}, load average {load}",
        flush=True,
    )
    started = time.perf_counter()
    sections: list[Section] = []
    for name, run in _benchmarks(args, n):
        if args.only in (None, name):
            sections.extend(_guarded(name, run))
    print()
    print(format_table(sections))
    print(f"\ntotal benchmark time {time.perf_counter() - started:.1f} s")
    return 0 if all(s.ok for s in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
