"""Builders for the policy tests: people, cases, reminders, attempts and compiled policies.

Every instant is an aware UTC datetime. ``local`` turns a wall-clock time in a zone into one,
so expected instants are computed with zoneinfo rather than by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.config import PolicyFile
from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    Decision,
    OptOut,
    Outcome,
    Person,
    Reminder,
)
from dispatcher.policy import ChannelTraits, Policy, compile_policy, decide
from dispatcher.policy.windows import Window, open_interval

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
SHANGHAI = "Asia/Shanghai"
LOS_ANGELES = "America/Los_Angeles"

PHONE_1 = ContactPoint(1, ContactKind.PHONE, "+15550000001")
PHONE_2 = ContactPoint(2, ContactKind.PHONE, "+15550000002", priority=1)
EMAIL_1 = ContactPoint(3, ContactKind.EMAIL, "p1@example.com")
POSTAL_1 = ContactPoint(4, ContactKind.POSTAL, "1 Example Road")
CONTACTS = (PHONE_1, PHONE_2, EMAIL_1, POSTAL_1)

CHANNELS: Mapping[str, ChannelTraits] = {
    "sms": ChannelTraits("sms", ContactKind.PHONE),
    "voice": ChannelTraits("voice", ContactKind.PHONE),
    "email": ChannelTraits("email", ContactKind.EMAIL),
    "letter": ChannelTraits("letter", ContactKind.POSTAL, window_exempt=True),
    # Postal like a letter but not exempt by its traits: policy.toml can still exempt it.
    "postcard": ChannelTraits("postcard", ContactKind.POSTAL),
}

# A long way before any test instant: decide ignores due times, the store does not.
DUE = datetime(2026, 1, 1, tzinfo=UTC)


def local(
    zone: str,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """The UTC instant of a wall-clock time in ``zone`` (``fold=1``: the later of two)."""
    wall_time = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)
    return wall_time.astimezone(UTC)


def local_on(zone: str, day: date, clock: time) -> datetime:
    """``local`` for a date and a time of day."""
    return local(zone, day.year, day.month, day.day, clock.hour, clock.minute, clock.second)


def wall(instant: datetime, zone: str) -> datetime:
    """``instant`` as a naive wall-clock time in ``zone``."""
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def window(
    start: str, end: str, *, days: str | Sequence[str] = "*", channels: Sequence[str] = ("*",)
) -> dict[str, Any]:
    """A ``[[windows]]`` table as policy.toml spells it."""
    return {"channels": list(channels), "days": days, "from": start, "to": end}


def limit(
    max_: int, per: str, *, channels: Sequence[str] = ("*",), scope: str = "person"
) -> dict[str, Any]:
    """A ``[[limits]]`` table as policy.toml spells it."""
    return {"channels": list(channels), "max": max_, "per": per, "scope": scope}


DAYTIME = window("08:00", "21:00")


def policy(
    *,
    windows: Iterable[Mapping[str, Any]] = (),
    limits: Iterable[Mapping[str, Any]] = (),
    min_gap: Mapping[str, Any] | None = None,
    cooldown: Mapping[str, Any] | None = None,
    jitter: str = "20m",
    hold_recheck: str = "1d",
    window_exempt: Sequence[str] = (),
    channels: Mapping[str, ChannelTraits] = CHANNELS,
    fallback_timezone: str = "UTC",
    after_cease: Iterable[tuple[str, str]] = (),
    allowed_states: Iterable[tuple[str, str, str]] = (),
) -> Policy:
    """A compiled policy, built through the same model ``policy.toml`` is parsed into."""
    source: dict[str, Any] = {
        "jitter": jitter,
        "hold_recheck": hold_recheck,
        "window_exempt": list(window_exempt),
        "windows": [dict(w) for w in windows],
        "limits": [dict(rule) for rule in limits],
    }
    if min_gap is not None:
        source["min_gap"] = dict(min_gap)
    if cooldown is not None:
        source["cooldown"] = dict(cooldown)
    return compile_policy(
        PolicyFile.model_validate(source),
        channels=channels,
        fallback_timezone=fallback_timezone,
        after_cease=after_cease,
        allowed_states=allowed_states,
    )


def compiled_windows(*rules: Mapping[str, Any]) -> tuple[Window, ...]:
    """The windows of ``rules`` (all on channel "*") as windows.py sees them."""
    return policy(windows=rules).windows["*"]


def make_person(
    *,
    timezone: str | None = NEW_YORK,
    contacts: Sequence[ContactPoint] = CONTACTS,
    opt_outs: Sequence[OptOut] = (),
    id: str = "P1",
) -> Person:
    return Person(id, "Pat Example", "en", timezone, tuple(contacts), tuple(opt_outs))


def make_case(
    *,
    state: CaseState = CaseState.OPEN,
    paused_until: datetime | None = None,
    id: str = "C1",
    person_id: str = "P1",
) -> Case:
    return Case(id, person_id, "100.00", "USD", date(2025, 12, 1), state, "standard", paused_until)


def make_reminder(
    *, id: int = 1, channel: str = "sms", template: str = "first_notice", case_id: str = "C1"
) -> Reminder:
    return Reminder(id, case_id, "P1", "standard", "1", channel, template, DUE, DUE)


_attempt_ids = itertools.count(1)


def make_attempt(
    at: datetime,
    *,
    channel: str = "sms",
    case_id: str = "C1",
    contact: str = PHONE_1.value,
    outcome: Outcome = Outcome.PLACED,
    counted: bool = True,
    person_id: str = "P1",
) -> Attempt:
    return Attempt(
        f"A{next(_attempt_ids)}", None, person_id, case_id, channel, contact, at, outcome, counted
    )


def decide_at(
    compiled: Policy,
    now: datetime,
    *,
    reminder: Reminder | None = None,
    person: Person | None = None,
    case: Case | None = None,
    history: Sequence[Attempt] = (),
) -> Decision:
    """``decide`` with the default reminder (sms, case C1), person (New York) and open case."""
    return decide(
        compiled,
        reminder or make_reminder(),
        person or make_person(),
        case or make_case(),
        history,
        now,
    )


def is_open(compiled: Policy, channel: str, zone: str, at: datetime) -> bool:
    """Whether ``channel``'s windows allow ``at`` in ``zone`` (no windows: always)."""
    windows = compiled.windows_for(channel)
    return windows is None or open_interval(windows, zone, at) is not None


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


ONE_DAY = timedelta(days=1)

# A summer weekday plus each zone's 2026 clock changes (Shanghai has none: the US and UK
# dates are ordinary days there, which checks nothing leaks across zones).
ZONE_DAYS = [
    (NEW_YORK, date(2026, 6, 10)),
    (NEW_YORK, date(2026, 3, 8)),
    (NEW_YORK, date(2026, 11, 1)),
    (LOS_ANGELES, date(2026, 6, 10)),
    (LOS_ANGELES, date(2026, 3, 8)),
    (LOS_ANGELES, date(2026, 11, 1)),
    (LONDON, date(2026, 6, 10)),
    (LONDON, date(2026, 3, 29)),
    (LONDON, date(2026, 10, 25)),
    (SHANGHAI, date(2026, 6, 10)),
    (SHANGHAI, date(2026, 3, 8)),
    (SHANGHAI, date(2026, 10, 25)),
]
