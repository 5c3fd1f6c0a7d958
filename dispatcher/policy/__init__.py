"""The contact policy: pure functions of (reminder, person, case, attempt history, now).

- ``case_state``: paid, closed, plan, hardship, disputed, ceased, bankrupt, deceased
- ``breathing_space``: the UK Breathing Space moratorium (SI 2020/1311)
- ``contacts``: opt-outs and undeliverable addresses
- ``windows``: allowed hours in the person's local time
- ``limits``: rolling-window limits, calendar-day caps, minimum gap, conversation cooldown
- ``zones``: the candidate time zones of a person (explicit, phone numbers, address)
- ``calendars``: public holidays as closed days
- ``presets``: the built-in presets and overlays, merged under ``policy.toml``
- ``overlays``: the built-in overlays as data, each rule with its source
- ``places``, ``jurisdictions``: where a person lives, and the jurisdictions that bind them
- ``strictest``: several jurisdictions' policies read together as one, the strictest
- ``consent``: channels that need the person's consent on the contact point
- ``wishes``: the person's own wishes (refused channels, contact hours) as exclusions and
  further windows, never looser than the rules
- ``compiled``: the compiled ``Policy`` and, per channel, the rules that bind it
- ``deferral``: the earliest instant every time rule allows, and the jitter in a window
- ``past``: a person's attempts as the rules read them, sorted once per decision
- ``engine``: ``decide`` combines them into one Decision
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import NamedTuple

from dispatcher.config import PolicyFile
from dispatcher.policy.calendars import closed_days
from dispatcher.policy.compiled import ChannelTraits, Policy
from dispatcher.policy.engine import decide
from dispatcher.policy.jurisdictions import jurisdiction_places
from dispatcher.policy.limits import Cooldown, DailyCap, Gap, Limit
from dispatcher.policy.presets import effective_policy
from dispatcher.policy.windows import Window

__all__ = ["ChannelTraits", "Policy", "compile_policy", "decide"]


def compile_policy(
    source: PolicyFile,
    channels: Mapping[str, ChannelTraits],
    *,
    fallback_timezone: str = "UTC",
    after_cease: Iterable[tuple[str, str]] = (),
    allowed_states: Iterable[tuple[str, str, str]] = (),
) -> Policy:
    """Turn ``policy.toml``'s model (over its preset and overlays) into the structures
    ``decide`` reads. Holiday calendars are built here, once, not per decision; the policy of
    each combination of jurisdictions when first needed (``jurisdictions``)."""
    by_template = _ByTemplate(frozenset(after_cease), frozenset(allowed_states))
    policy = _compiled(effective_policy(source), channels, fallback_timezone, by_template)
    if not source.jurisdictions:
        return policy
    places = jurisdiction_places(
        source, channels, lambda file: _compiled(file, channels, fallback_timezone, by_template)
    )
    return replace(policy, places=places)


class _ByTemplate(NamedTuple):
    """What the templates' own flags allow on a ceased, bankrupt or deceased case."""

    after_cease: frozenset[tuple[str, str]]
    allowed_states: frozenset[tuple[str, str, str]]


def _compiled(
    source: PolicyFile,
    channels: Mapping[str, ChannelTraits],
    fallback_timezone: str,
    by_template: _ByTemplate,
) -> Policy:
    exempt = set(source.window_exempt)
    traits = {
        name: ChannelTraits(t.name, t.contact_kind, t.window_exempt or name in exempt)
        for name, t in channels.items()
    }
    windows: dict[str, list[Window]] = {}
    for rule in source.windows:
        window = Window(frozenset(rule.days), rule.start, rule.end, rule.origin)
        for channel in rule.channels:
            windows.setdefault(channel, []).append(window)
    gap = None
    if source.min_gap.every:
        gap = Gap(source.min_gap.every, frozenset(source.min_gap.channels), source.min_gap.origin)
    cooldown = None
    if source.cooldown is not None:
        after = source.cooldown
        cooldown = Cooldown(
            frozenset(after.channels), after.per, after.scope, after.calendar, after.origin
        )
    return Policy(
        channels=traits,
        windows={k: tuple(v) for k, v in windows.items()},
        limits=tuple(
            Limit(
                frozenset(r.channels),
                r.max,
                r.per,
                r.scope,
                r.origin,
                None if r.lines is None else frozenset(r.lines),
            )
            for r in source.limits
        ),
        daily_caps=tuple(
            DailyCap(frozenset(r.channels), r.max, r.scope, r.count, r.origin)
            for r in source.daily_caps
        ),
        holidays=tuple(
            closed_days(r.calendar, r.subdivision, r.channels, r.zones, r.origin)
            for r in source.holidays
        ),
        preset=source.preset,
        overlays=source.overlays,
        gap=gap,
        cooldown=cooldown,
        jitter=source.jitter,
        hold_recheck=source.hold_recheck,
        fallback_timezone=fallback_timezone,
        after_cease=by_template.after_cease,
        allowed_states=by_template.allowed_states,
        consent_required=frozenset(source.consent_required),
    )
