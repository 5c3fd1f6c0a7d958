"""Rolling-window limits, minimum gap and conversation cooldown over a person's attempts.

Each function answers: given the attempts so far, what is the earliest instant at or after
``at`` when this rule allows one more contact? History is fixed while deciding, so every rule
is monotone: once it allows an instant, it allows every later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.durations import format_duration
from dispatcher.model import Attempt, Outcome, Reason


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max`` counted attempts on ``channels`` in any rolling ``per``, counted per
    ``scope`` (person, case or contact point)."""

    channels: frozenset[str]
    max: int
    per: timedelta
    scope: str

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels


@dataclass(frozen=True, slots=True)
class Gap:
    every: timedelta
    channels: frozenset[str]

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels


@dataclass(frozen=True, slots=True)
class Cooldown:
    channels: frozenset[str]
    per: timedelta
    scope: str

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels


def _in_scope(attempt: Attempt, scope: str, case_id: str, contact: str | None) -> bool:
    if scope == "case":
        return attempt.case_id == case_id
    if scope == "contact":
        return contact is not None and attempt.contact == contact
    return True


def limit_clears_at(
    limit: Limit,
    history: Sequence[Attempt],
    *,
    at: datetime,
    case_id: str,
    contact: str | None,
) -> datetime:
    """Earliest instant ≥ ``at`` when one more attempt stays within ``limit``."""
    if len(history) < limit.max:
        return at  # even if every attempt counted, one more fits
    times = sorted(
        a.at
        for a in history
        if a.counted
        and limit.applies_to(a.channel)
        and _in_scope(a, limit.scope, case_id, contact)
        and a.at > at - limit.per
    )
    excess = len(times) - limit.max
    if excess < 0:
        return at
    # The (excess+1)-th oldest attempt must leave the window before one more fits.
    return max(at, times[excess] + limit.per)


def limit_reason(limit: Limit, until: datetime) -> Reason:
    channels = ", ".join(sorted(limit.channels))
    return Reason(
        "rate_limit",
        f"{limit.max} {channels} contact(s) per {format_duration(limit.per)} per {limit.scope} "
        f"reached; the oldest leaves the window at {until:%Y-%m-%d %H:%M} UTC",
    )


def gap_clears_at(gap: Gap, history: Sequence[Attempt], *, at: datetime) -> datetime:
    """Earliest instant ≥ ``at`` that is ``gap.every`` after the last contact to the person."""
    if not history:
        return at
    last = max(
        (a.at for a in history if a.counted and gap.applies_to(a.channel)),
        default=None,
    )
    if last is None:
        return at
    return max(at, last + gap.every)


def gap_reason(gap: Gap, until: datetime) -> Reason:
    return Reason(
        "min_gap",
        f"at least {format_duration(gap.every)} between contacts to one person; "
        f"next possible {until:%Y-%m-%d %H:%M} UTC",
    )


def cooldown_clears_at(
    cooldown: Cooldown, history: Sequence[Attempt], *, at: datetime, case_id: str
) -> datetime:
    """Earliest instant ≥ ``at`` that is ``cooldown.per`` after the last conversation."""
    if not history:
        return at
    last = max(
        (
            a.at
            for a in history
            if a.outcome is Outcome.CONVERSATION and _in_scope(a, cooldown.scope, case_id, None)
        ),
        default=None,
    )
    if last is None:
        return at
    return max(at, last + cooldown.per)


def cooldown_reason(cooldown: Cooldown, until: datetime) -> Reason:
    return Reason(
        "cooldown",
        f"a conversation took place; no {', '.join(sorted(cooldown.channels))} for "
        f"{format_duration(cooldown.per)} per {cooldown.scope}, until {until:%Y-%m-%d %H:%M} UTC",
    )
