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
from pathlib import Path

from benchmarks import Section, e2e_size, format_table
from benchmarks.stores import bench_store

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
        choices=("policy", "e2e", "scale", "steady", "scale-out", "email", "sms"),
        help="run one benchmark",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the end-to-end run directory for inspection"
    )
    args = parser.parse_args(argv)

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
    # Imported here so `--help` stays instant and one benchmark's imports don't warm the other.
    if args.only in (None, "policy"):
        from benchmarks import policy_decisions

        print("running policy decisions …", flush=True)
        sections.append(policy_decisions.run(n * POLICY_PER_E2E))
    if args.only in (None, "e2e"):
        from benchmarks import e2e_outbox

        print(f"running end to end with {n:,} reminders …", flush=True)
        sections.append(e2e_outbox.run(n, keep=args.keep))
    if args.only in (None, "scale"):
        from benchmarks import scale

        cases = scale.scale_size(args.quick)
        print(f"running scale with {cases:,} open cases …", flush=True)
        sections.append(scale.run(cases, postgres=bench_store(), quick=args.quick, keep=args.keep))
    if args.only in (None, "steady"):
        from benchmarks import steady_rate

        rate, seconds = steady_rate.steady_size(args.quick)
        print(f"running steady rate, {rate}/s for {seconds} s …", flush=True)
        sections.append(steady_rate.run(rate, seconds, keep=args.keep))
    if args.only in (None, "scale-out"):
        from benchmarks import scale_out

        scale_n = max(1, n // 4)
        print(f"running scale-out with {scale_n:,} reminders per run …", flush=True)
        sections.append(scale_out.run(scale_n))
    if args.only in (None, "email"):
        from benchmarks import email_throughput

        email_n = max(1, n // 4)
        print(f"running email throughput with {email_n:,} messages …", flush=True)
        sections.append(email_throughput.run(email_n, keep=args.keep))
    if args.only in (None, "sms"):
        from benchmarks import sms_throughput

        sms_n = max(1, n // 4)
        print(f"running SMS throughput with {sms_n:,} messages …", flush=True)
        sections.append(sms_throughput.run(sms_n))
    print()
    print(format_table(sections))
    print(f"\ntotal benchmark time {time.perf_counter() - started:.1f} s")
    return 0 if all(s.ok for s in sections) else 1


if __name__ == "__main__":
    sys.exit(main())
