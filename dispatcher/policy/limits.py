"""Rolling-window limits, calendar-day caps, minimum gap and conversation cooldown over a
person's attempts.

Each function answers: given the attempts so far, what is the earliest instant at or after
``at`` when this rule allows one more contact? History is fixed while deciding, so every rule
is monotone: once it allows an instant, it allows every later one. Each takes the history as
a plain sequence or as ``PastAttempts`` (sorted once per decision, so a rule looks only at the
stretch of time its period covers); ``span`` says how far back before ``at`` a rule can see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dispatcher.config.durations import format_duration
from dispatcher.model import UNKNOWN_LINE, Attempt, ContactKind, Outcome, Person, Reason
from dispatcher.policy.past import PastAttempts, past_attempts

# A local calendar day, whatever the zone's offset and its DST days, lies within this much
# before any instant in it.
DAY_REACH = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``max`` counted attempts on ``channels`` in any rolling ``per``, counted per
    ``scope`` (person, case or contact point). With ``lines``, only attempts made to phone
    numbers of those lines count (``unknown``: a number of no known line, or one no longer on
    file), and the limit binds only a reminder that would go to such a number."""

    channels: frozenset[str]
    max: int
    per: timedelta
    scope: str
    rule: str = ""
    lines: frozenset[str] | None = None

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels

    def binds(self, line: str | None) -> bool:
        """Whether the limit binds a reminder to a number of ``line`` (None: not a phone)."""
        return self.lines is None or (line is not None and line in self.lines)

    @property
    def span(self) -> timedelta:
        return self.per


@dataclass(frozen=True, slots=True)
class Gap:
    every: timedelta
    channels: frozenset[str]
    rule: str = ""

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels

    @property
    def span(self) -> timedelta:
        return self.every


@dataclass(frozen=True, slots=True)
class Cooldown:
    """After a conversation, nothing on ``channels`` for ``per``; with ``calendar`` the
    conversation's local day is day 1 and the cooldown ends at the start of day ``per + 1``."""

    channels: frozenset[str]
    per: timedelta
    scope: str
    calendar: bool = False
    rule: str = ""

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels

    @property
    def days(self) -> int:
        """The cooldown's length in local days (calendar mode)."""
        return max(1, round(self.per / timedelta(days=1)))

    @property
    def span(self) -> timedelta:
        if not self.calendar:
            return self.per
        # Local midnight ``days`` days after the conversation's local date is at most a day
        # (and a DST hour) more than ``days`` days after it.
        return timedelta(days=self.days) + DAY_REACH


def utc_minute(instant: datetime) -> str:
    """``2026-11-03 13:00``: what ``%Y-%m-%d %H:%M`` writes, for reason texts, without the
    cost of ``strftime`` (which the reasons of a busy queue pay many times a second)."""
    return (
        f"{instant.year}-{instant.month:02d}-{instant.day:02d} "
        f"{instant.hour:02d}:{instant.minute:02d}"
    )


def _in_scope(attempt: Attempt, scope: str, case_id: str, contact: str | None) -> bool:
    if scope == "case":
        return attempt.case_id == case_id
    if scope == "contact":
        return contact is not None and attempt.contact == contact
    return True


def _scoped(
    attempts: Sequence[Attempt], scope: str, case_id: str, contact: str | None
) -> Sequence[Attempt]:
    """The attempts of ``attempts`` that ``scope`` counts (``_in_scope`` over a run)."""
    if scope == "case":
        return [a for a in attempts if a.case_id == case_id]
    if scope == "contact":
        return [a for a in attempts if a.contact == contact] if contact is not None else ()
    return attempts


def limit_clears_at(
    limit: Limit,
    history: Sequence[Attempt] | PastAttempts,
    *,
    at: datetime,
    case_id: str,
    contact: str | None,
    lines_of: Mapping[str, str] | None = None,
) -> datetime:
    """Earliest instant ≥ ``at`` when one more attempt stays within ``limit``. ``lines_of``:
    the line of each of the person's addresses (``line_names``), for a limit with ``lines``."""
    past = past_attempts(history)
    since = at - limit.per
    if past.count_after(since) < limit.max:
        return at  # even if every attempt in the window counted, one more fits
    channels = limit.channels
    every = "*" in channels
    scoped = _scoped(past.after(since), limit.scope, case_id, contact)
    lines = limit.lines
    if lines is None:
        times = [a.at for a in scoped if a.counted and (every or a.channel in channels)]
    else:
        # An address no longer on file counts as ``unknown``: the strictest reading of a
        # number whose line cannot be told.
        known = lines_of or {}
        times = [
            a.at
            for a in scoped
            if a.counted
            and (every or a.channel in channels)
            and known.get(a.contact, UNKNOWN_LINE) in lines
        ]
    # ``times`` is in time order already
    excess = len(times) - limit.max
    if excess < 0:
        return at
    # The (excess+1)-th oldest attempt must leave the window before one more fits.
    return max(at, times[excess] + limit.per)


def line_names(person: Person) -> dict[str, str]:
    """The line of each of ``person``'s addresses as a limit's ``lines`` names it: a phone
    number's line, ``unknown`` for one of no known line, and nothing a line could name for
    an address that is not a phone number."""
    return {
        c.value: (c.line or UNKNOWN_LINE) if c.kind is ContactKind.PHONE else ""
        for c in person.contacts
    }


def limit_reason(limit: Limit, until: datetime) -> Reason:
    channels = ", ".join(sorted(limit.channels))
    to = f" to {', '.join(sorted(limit.lines))} numbers" if limit.lines is not None else ""
    return Reason(
        "rate_limit",
        f"{limit.max} {channels} contact(s){to} per {format_duration(limit.per)} per "
        f"{limit.scope} reached; the oldest leaves the window at {utc_minute(until)} UTC",
        limit.rule or None,
    )


def gap_clears_at(gap: Gap, history: Sequence[Attempt] | PastAttempts, *, at: datetime) -> datetime:
    """Earliest instant ≥ ``at`` that is ``gap.every`` after the last contact to the person."""
    channels = gap.channels
    every = "*" in channels
    for a in reversed(past_attempts(history).attempts):  # the latest first
        if a.counted and (every or a.channel in channels):
            return max(at, a.at + gap.every)
    return at


def gap_reason(gap: Gap, until: datetime) -> Reason:
    return Reason(
        "min_gap",
        f"at least {format_duration(gap.every)} between contacts to one person; "
        f"next possible {utc_minute(until)} UTC",
        gap.rule or None,
    )


def cooldown_clears_at(
    cooldown: Cooldown,
    history: Sequence[Attempt] | PastAttempts,
    *,
    at: datetime,
    case_id: str,
    zones: tuple[str, ...] = ("UTC",),
) -> datetime:
    """Earliest instant ≥ ``at`` that is ``cooldown.per`` after the last conversation (in
    calendar mode: the start of local day ``per + 1``, the latest over ``zones``)."""
    last = next(
        (
            a.at
            for a in reversed(past_attempts(history).attempts)  # the latest first
            if a.outcome is Outcome.CONVERSATION and _in_scope(a, cooldown.scope, case_id, None)
        ),
        None,
    )
    if last is None:
        return at
    if not cooldown.calendar:
        return max(at, last + cooldown.per)
    # Reg F §1006.14(b)(2)(ii): the conversation's day is day 1, so a 7-day cooldown lasts
    # until local midnight at the start of day 8.
    days = cooldown.days
    return max(at, *(_local_midnight_after(last, zone, days) for zone in zones))


def cooldown_reason(cooldown: Cooldown, until: datetime) -> Reason:
    span = (
        f"{round(cooldown.per / timedelta(days=1))} days counting the conversation's day"
        if cooldown.calendar
        else format_duration(cooldown.per)
    )
    return Reason(
        "cooldown",
        f"a conversation took place; no {', '.join(sorted(cooldown.channels))} for "
        f"{span} per {cooldown.scope}, until {utc_minute(until)} UTC",
        cooldown.rule or None,
    )


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_midnight_after(instant: datetime, zone: str, days: int) -> datetime:
    """Local midnight ``days`` days after the local date of ``instant`` in ``zone``."""
    tz = _zone(zone)
    day = instant.astimezone(tz).date() + timedelta(days=days)
    # Midnight may not exist (a DST jump at 00:00): the first instant of the day then.
    midnight = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    if midnight.astimezone(tz).date() < day:
        midnight = datetime.combine(day, time(1), tzinfo=tz).astimezone(UTC)
    return midnight


@dataclass(frozen=True, slots=True)
class DailyCap:
    """At most ``max`` attempts of kind ``count`` on ``channels`` per local calendar day,
    per ``scope``."""

    channels: frozenset[str]
    max: int
    scope: str
    count: str  # attempts | conversations | unanswered
    rule: str = ""

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels

    @property
    def span(self) -> timedelta:
        return DAY_REACH

    def counts(self, attempt: Attempt) -> bool:
        if not self.applies_to(attempt.channel):
            return False
        if self.count == "conversations":
            # A call in flight or of unknown outcome may have been answered: count it.
            return attempt.outcome in _MAYBE_CONVERSATION
        if not attempt.counted:
            return False  # refused before placing (HTTP 429 / 20429): not an attempt
        if self.count == "unanswered":
            return attempt.outcome is not Outcome.CONVERSATION
        return True


_MAYBE_CONVERSATION = frozenset(
    {Outcome.CONVERSATION, Outcome.RESERVED, Outcome.SENDING, Outcome.UNKNOWN}
)


def daily_cap_clears_at(
    cap: DailyCap,
    history: Sequence[Attempt] | PastAttempts,
    *,
    at: datetime,
    case_id: str,
    contact: str | None,
    zones: tuple[str, ...],
) -> datetime:
    """Earliest instant ≥ ``at`` when the cap allows one more: the next local midnight of
    each zone whose day is full (the latest of them)."""
    past = past_attempts(history)
    clears = at
    for zone in zones:
        day_start = _local_midnight_after(at, zone, 0)
        day_end = _local_midnight_after(at, zone, 1)
        today = _scoped(past.between(day_start, day_end), cap.scope, case_id, contact)
        used = sum(1 for a in today if cap.counts(a))
        if used >= cap.max:
            clears = max(clears, day_end)
    return clears


def daily_cap_reason(cap: DailyCap, until: datetime) -> Reason:
    what = {"attempts": "attempts", "conversations": "conversations", "unanswered": "unanswered"}[
        cap.count
    ]
    return Reason(
        "daily_cap",
        f"{cap.max} {', '.join(sorted(cap.channels))} {what} per local day per {cap.scope} "
        f"reached; the count starts again at local midnight, {utc_minute(until)} UTC",
        cap.rule or None,
    )
