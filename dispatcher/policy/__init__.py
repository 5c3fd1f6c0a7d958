"""The contact policy: pure functions of (reminder, person, case, attempt history, now).

- ``case_state``: paid, closed, plan, hardship, disputed, ceased
- ``contacts``: opt-outs and undeliverable addresses
- ``windows``: allowed hours in the person's local time
- ``limits``: rolling-window limits, minimum gap, conversation cooldown
- ``engine``: ``decide`` combines them into one Decision
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dispatcher.config import PolicyFile
from dispatcher.policy.engine import ChannelTraits, Policy, decide
from dispatcher.policy.limits import Cooldown, Gap, Limit
from dispatcher.policy.windows import Window

__all__ = ["ChannelTraits", "Policy", "compile_policy", "decide"]


def compile_policy(
    source: PolicyFile,
    channels: Mapping[str, ChannelTraits],
    *,
    fallback_timezone: str = "UTC",
    after_cease: Iterable[tuple[str, str]] = (),
) -> Policy:
    """Turn ``policy.toml``'s model into the structures ``decide`` reads."""
    exempt = set(source.window_exempt)
    traits = {
        name: ChannelTraits(t.name, t.contact_kind, t.window_exempt or name in exempt)
        for name, t in channels.items()
    }
    windows: dict[str, list[Window]] = {}
    for rule in source.windows:
        window = Window(frozenset(rule.days), rule.start, rule.end)
        for channel in rule.channels:
            windows.setdefault(channel, []).append(window)
    gap = None
    if source.min_gap.every:
        gap = Gap(source.min_gap.every, frozenset(source.min_gap.channels))
    cooldown = None
    if source.cooldown is not None:
        cooldown = Cooldown(
            frozenset(source.cooldown.channels), source.cooldown.per, source.cooldown.scope
        )
    return Policy(
        channels=traits,
        windows={k: tuple(v) for k, v in windows.items()},
        limits=tuple(Limit(frozenset(r.channels), r.max, r.per, r.scope) for r in source.limits),
        gap=gap,
        cooldown=cooldown,
        jitter=source.jitter,
        hold_recheck=source.hold_recheck,
        fallback_timezone=fallback_timezone,
        after_cease=frozenset(after_cease),
    )
