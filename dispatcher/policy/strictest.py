"""The strictest reading of several jurisdictions' policies at once, as one policy.

Limits, daily caps and holidays add up: each binds on its own. Windows do not (a channel's
windows are open when any of them is), so for each channel the open hours are the hours open
in every jurisdiction: the weekly intervals are intersected and written back as windows. The
minimum gap and the cooldown keep the longest; consent is required where any jurisdiction
requires it; a channel is exempt from hours only where every jurisdiction exempts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import time, timedelta
from typing import TypeVar

from dispatcher.config import PolicyFile
from dispatcher.config.policy_file import LimitRule, WindowRule
from dispatcher.config.values import WEEKDAYS

DAY = 1440
WEEK = 7 * DAY
T = TypeVar("T")
Span = tuple[int, int]  # minutes from Monday 00:00 local, end exclusive


def strictest(policies: Sequence[PolicyFile], channels: Iterable[str]) -> PolicyFile:
    """One policy that allows a contact only when each of ``policies`` allows it."""
    if len(policies) == 1:
        return policies[0]
    first = policies[0]
    exempt = set(first.window_exempt).intersection(*(p.window_exempt for p in policies[1:]))
    windows, limits = _windows(policies, ("*", *sorted(set(channels))))
    gaps = [p.min_gap for p in policies]
    cooldowns = [p.cooldown for p in policies if p.cooldown is not None]
    return first.model_copy(
        update={
            "window_exempt": tuple(sorted(exempt)),
            "windows": windows,
            "limits": _union(p.limits for p in policies) + limits,
            "daily_caps": _union(p.daily_caps for p in policies),
            "holidays": _union(p.holidays for p in policies),
            "min_gap": max(gaps, key=lambda g: g.every),
            "cooldown": max(cooldowns, key=lambda c: c.per) if cooldowns else None,
            "consent_required": tuple(sorted({c for p in policies for c in p.consent_required})),
            "hold_recheck": min(p.hold_recheck for p in policies),
        }
    )


def _union(lists: Iterable[tuple[T, ...]]) -> tuple[T, ...]:
    found: list[T] = []
    for rules in lists:
        found.extend(rule for rule in rules if rule not in found)
    return tuple(found)


def _windows(
    policies: Sequence[PolicyFile], channels: tuple[str, ...]
) -> tuple[tuple[WindowRule, ...], tuple[LimitRule, ...]]:
    """For each channel, windows open where every policy's are; a channel open nowhere in
    common gets a limit of zero."""
    if all(p.windows == policies[0].windows for p in policies):
        return policies[0].windows, ()
    windows: list[WindowRule] = []
    closed: list[LimitRule] = []
    for channel in channels:
        binding = [
            rules
            for p in policies
            if channel not in p.window_exempt
            if (rules := _channel_windows(p, channel)) is not None
        ]
        if not binding:
            continue
        spans = _spans(binding[0])
        for rules in binding[1:]:
            spans = _intersect(spans, _spans(rules))
        origin = " and ".join(dict.fromkeys(r.origin for rules in binding for r in rules))
        if not spans:
            closed.append(
                LimitRule(
                    name=f"no-common-hours-{channel}",
                    channels=(channel,),
                    max=0,
                    per=timedelta(days=1),
                    origin=f"no hour open in every jurisdiction ({origin})",
                )
            )
            continue
        windows.extend(_as_windows(spans, channel, origin))
    return tuple(windows), tuple(closed)


def _channel_windows(policy: PolicyFile, channel: str) -> tuple[WindowRule, ...] | None:
    """The windows binding ``channel`` in ``policy`` (its own, else ``*``'s), None if none."""
    own = tuple(w for w in policy.windows if channel in w.channels)
    if own or channel == "*":
        return own or None
    star = tuple(w for w in policy.windows if "*" in w.channels)
    return star or None


def _minutes(clock: time) -> int:
    return DAY if clock == time.max else clock.hour * 60 + clock.minute


def _spans(rules: Iterable[WindowRule]) -> list[Span]:
    """The weekly open intervals of ``rules``, merged and sorted."""
    spans: list[Span] = []
    for rule in rules:
        start, end = _minutes(rule.start), _minutes(rule.end)
        length = end - start if end > start else end + DAY - start
        for day in rule.days:
            begin = day * DAY + start
            if begin + length <= WEEK:
                spans.append((begin, begin + length))
            else:  # Sunday night into Monday
                spans.extend([(begin, WEEK), (0, begin + length - WEEK)])
    return _merged(spans)


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(first: list[Span], second: list[Span]) -> list[Span]:
    found: list[Span] = []
    for a_start, a_end in first:
        for b_start, b_end in second:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                found.append((start, end))
    return _merged(found)


def _as_windows(spans: list[Span], channel: str, origin: str) -> list[WindowRule]:
    """Weekly intervals as window rules of ``channel``, one per local day they cover (the
    same hours on several days in one rule)."""
    by_hours: dict[tuple[int, int], list[int]] = {}
    for start, end in spans:
        at = start
        while at < end:
            day, offset = divmod(at, DAY)
            stop = min(end, (day + 1) * DAY)
            by_hours.setdefault((offset, stop - day * DAY), []).append(day)
            at = stop
    return [
        WindowRule.model_validate(
            {
                "channels": (channel,),
                "days": [WEEKDAYS[day] for day in sorted(days)],
                "from": _clock(start),
                "to": _clock(end),
                "origin": origin,
            }
        )
        for (start, end), days in sorted(by_hours.items(), key=lambda item: (item[1], item[0]))
    ]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
