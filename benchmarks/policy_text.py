"""The policy a benchmark really runs with, in words: compiled from its config directory as
the daemon compiles it, so the output names the rules that bind each channel (windows,
limits, minimum gap, cooldown, daily caps) and how far back ``decide`` reads the history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from dispatcher.runtime import load_runtime

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def _days(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def _windows(rules: Any, exempt: bool) -> str:
    if exempt:
        return "any hour (exempt from windows)"
    windows = getattr(rules, "windows", None)
    if not windows:
        return "any hour"
    return "open " + " or ".join(f"{w.label()} {_days(w.days)}" for w in windows) + " local"


def _rules(rules: Any) -> list[str]:
    parts = [f"max {x.max}/{_span(x.per)} per {x.scope}" for x in rules.limits]
    if rules.gap:
        parts.append(f"min gap {_span(rules.gap.every)}")
    if rules.cooldown:
        parts.append(f"no contact {_span(rules.cooldown.per)} after a conversation")
    parts.extend(
        f"max {c.max} {c.count}/local day per {c.scope}" for c in getattr(rules, "daily_caps", ())
    )
    return parts


def describe_policy(config_dir: Path) -> list[str]:
    """One line for the policy as a whole, then one per channel: its windows and limits."""
    try:
        policy = load_runtime(config_dir).policy
        overlays = ", ".join(policy.overlays) or "none"
        lines = [
            f"preset {policy.preset}, overlays {overlays}; history read back "
            f"{_span(policy.lookback)} (the longest rule period)"
        ]
        for name, traits in policy.channels.items():
            rules = policy.rules_for(name)
            limits = "; ".join(_rules(rules)) or "no limits"
            lines.append(f"{name}: {_windows(rules, traits.window_exempt)}; {limits}")
        return lines
    except Exception as exc:  # a description must never stop the figures from printing
        return [f"policy not described ({type(exc).__name__}: {exc})"]
