"""The policy page's facts: every effective rule (preset, overlays and policy.toml merged)
with the layer it came from, and each channel's allowed hours over one week in a chosen
zone, as the compiled policy the daemon decides with sees them (holidays of that week
included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from dispatcher.config.durations import format_duration
from dispatcher.config.policy_file import PolicyFile
from dispatcher.policy.presets import effective_policy
from dispatcher.policy.windows import WEEKDAY_NAMES


@dataclass(frozen=True)
class RuleRow:
    kind: str  # windows, limits, daily_caps, holidays, min_gap, cooldown
    name: str
    channels: str
    what: str
    origin: str


def _days(days: tuple[int, ...]) -> str:
    return "every day" if len(days) == 7 else " ".join(WEEKDAY_NAMES[d] for d in sorted(days))


def _clock(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


def rule_rows(source: PolicyFile) -> list[RuleRow]:
    """The effective rules, in the engine's order, each with the layer(s) that made it."""
    policy = effective_policy(source)
    rows: list[RuleRow] = []
    for w in policy.windows:
        what = f"{_days(w.days)} {_clock(w.start)}–{_clock(w.end)}"
        rows.append(RuleRow("windows", w.name or "", " ".join(w.channels), what, w.origin))
    for lim in policy.limits:
        to = f"; to {', '.join(lim.lines)} numbers" if lim.lines is not None else ""
        what = f"at most {lim.max} per {format_duration(lim.per)} ({lim.scope}{to})"
        rows.append(RuleRow("limits", lim.name or "", " ".join(lim.channels), what, lim.origin))
    for cap in policy.daily_caps:
        what = f"at most {cap.max} {cap.count} per local day ({cap.scope})"
        rows.append(RuleRow("daily_caps", cap.name or "", " ".join(cap.channels), what, cap.origin))
    for h in policy.holidays:
        where = h.calendar + (f"-{h.subdivision}" if h.subdivision else "")
        zones = f" in {', '.join(h.zones)}" if h.zones else ""
        what = f"public holidays of {where} closed{zones}"
        rows.append(RuleRow("holidays", h.name or "", " ".join(h.channels), what, h.origin))
    gap = policy.min_gap
    if gap.every:
        what = f"at least {format_duration(gap.every)} between contacts"
        rows.append(RuleRow("min_gap", "", " ".join(gap.channels), what, gap.origin))
    if policy.cooldown is not None:
        c = policy.cooldown
        days = ", whole local days" if c.calendar else ""
        what = f"none for {format_duration(c.per)} after a conversation ({c.scope}{days})"
        rows.append(RuleRow("cooldown", "", " ".join(c.channels), what, c.origin))
    return rows


def settings(source: PolicyFile) -> list[tuple[str, str]]:
    """The policy's single settings (no layer of their own: the last layer setting one)."""
    policy = effective_policy(source)
    return [
        ("preset", policy.preset),
        ("overlays", ", ".join(policy.overlays) or "-"),
        ("jitter", format_duration(policy.jitter)),
        ("hold_recheck", format_duration(policy.hold_recheck)),
        ("window_exempt", ", ".join(policy.window_exempt) or "-"),
    ]
