"""``make bench``: throughput and latency figures for the dispatcher. Prints, asserts nothing.

Each benchmark is a module with ``run(...) -> Section`` (benchmarks/README.md describes them):

- ``policy_decisions``: the compiled example policy's ``decide`` on a realistic mix of
  people, cases, histories and instants; decisions/s and the verdict mix.
- ``e2e_outbox``: the real daemon, in a subprocess, decides N due reminders for people with
  realistic histories and sends them through the outbox channel; reminders/s, CPU, memory.
- ``scale``: ``BENCH_CASES`` open cases loaded through ``dispatcher import``; start to ready,
  planner ticks and the claim stall they cause, ``status``, claims, idle RSS and CPU.
- ``steady_rate``: reminders due at a steady rate; due → handed and CPU per reminder.
- ``scale_out``, ``email_throughput``, ``sms_throughput``: several nodes, and the real
  channels against their raw clients.

Sizes: ``--quick`` (or ``BENCH_QUICK=1``) runs small sizes; ``BENCH_N`` sets the number of
end-to-end reminders (the policy benchmark scales with it), ``BENCH_CASES`` the scale run's.
``BENCH_STORE=postgresql://…`` runs the scale run on PostgreSQL and the end-to-end run on it
too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_E2E_N = 20_000
QUICK_E2E_N = 2_000


@dataclass
class Figure:
    """One row of the results table. ``value`` is None when it could not be measured."""

    name: str
    value: float | str | None
    unit: str = ""
    target: str = ""
    decimals: int = 0

    def formatted(self) -> str:
        if self.value is None:
            return "n/a"
        if isinstance(self.value, str):
            return self.value
        if self.decimals == 0:
            return f"{self.value:,.0f}"
        return f"{self.value:,.{self.decimals}f}"


@dataclass
class Section:
    """A benchmark's figures plus free-form notes and extra blocks printed under the table."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocks: list[tuple[str, list[str]]] = field(default_factory=list)
    ok: bool = True  # False when the benchmark could not run to completion

    def add(
        self,
        name: str,
        value: float | str | None,
        unit: str = "",
        target: str = "",
        decimals: int = 0,
    ) -> None:
        self.figures.append(Figure(name, value, unit, target, decimals))

    def value(self, name: str) -> float | None:
        """The number measured for the figure ``name`` (None if absent or not a number)."""
        for figure in self.figures:
            if figure.name == name and isinstance(figure.value, int | float):
                return float(figure.value)
        return None


def e2e_size(quick: bool) -> int:
    raw = os.environ.get("BENCH_N")
    if raw:
        return max(1, int(raw))
    return QUICK_E2E_N if quick else DEFAULT_E2E_N


# Runs at a provider latency are sized to take about this long on each side.
LATENCY_RUN_S = 4.0


def latency_size(count: int, concurrency: int, latency: float) -> int:
    """Messages for a run of about ``LATENCY_RUN_S`` at ``latency`` (seconds per answer) and
    ``concurrency`` requests in flight, whose ceiling is ``concurrency / latency`` per
    second; at most ``count``, at least one per slot."""
    return max(concurrency, min(count, int(concurrency / latency * LATENCY_RUN_S)))


def at_latency(latency: float) -> str:
    """``"20 ms"`` for 0.02."""
    return f"{latency * 1000:g} ms"


def format_table(sections: list[Section]) -> str:
    """A plain-text table: figure, value, unit, target; one block per section."""
    header = ("figure", "value", "unit", "target")
    rows = [(f.name, f.formatted(), f.unit, f.target) for s in sections for f in s.figures]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(cells: tuple[str, str, str, str]) -> str:
        name, value, unit, target = cells
        return (
            f"{name:<{widths[0]}}  {value:>{widths[1]}}  {unit:<{widths[2]}}  {target:<{widths[3]}}"
        ).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    out = [line(header), rule]
    for section in sections:
        out.append(f"[{section.title}]")
        out.extend(line((f.name, f.formatted(), f.unit, f.target)) for f in section.figures)
    out.append(rule)
    for section in sections:
        for note in section.notes:
            out.append(f"{section.title}: {note}")
        for title, lines in section.blocks:
            out.append("")
            out.append(f"{section.title} — {title}")
            out.extend(f"  {text}" for text in lines)
    return "\n".join(out)


# People are spread over these zones so that, at any hour, windows are open for some and
# closed for others.
ZONES = (
    "Asia/Shanghai",
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
)
