"""A person's wishes written as text, one reading for the import, the CLI and the API:
contact hours (``call mon-fri not between 09:00-17:00``, ``not before 10:00``), refused
channels and a preferred language. Each reader raises ``ValueError`` saying what is wrong.

Hours: ``[CHANNEL] [DAYS] not before|not after HH:MM`` or ``... not between HH:MM-HH:MM``;
no channel (or ``*``) is every channel, no days every day. Days are ``mon``..``sun``, ranges
(``mon-fri``), lists (``sat,sun``), ``weekdays`` or ``weekends``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import time

from dispatcher.model import WEEKDAYS, WISH_KINDS, HourWish

LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
CHANNEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
MOST_HOURS = 20
_LOCALE = re.compile(LOCALE_PATTERN)
_CHANNEL = re.compile(CHANNEL_PATTERN)
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_SPAN = re.compile(r"(\d{1,2}:\d{2})\s*(?:-|–|to|and)\s*(\d{1,2}:\d{2})")
_DAY_NAMES = {"weekdays": frozenset(range(5)), "weekends": frozenset({5, 6})}


def clock(text: str) -> time:
    """``HH:MM`` (24-hour) as a time of day."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


def days_of(text: str) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``weekdays`` … as weekday numbers (Monday = 0)."""
    found: set[int] = set()
    for part in text.lower().split(","):
        part = part.strip()
        if part in _DAY_NAMES:
            found |= _DAY_NAMES[part]
            continue
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(
                f"{text!r} is not a set of days (mon..sun, mon-fri, sat,sun, weekdays, weekends)"
            )
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        found |= {d % 7 for d in range(start, end + (7 if end < start else 0) + 1)}
    return frozenset(found)


def hour_wish(
    kind: str,
    at: time,
    until: time | None = None,
    channel: str | None = None,
    days: frozenset[int] | None = None,
) -> HourWish:
    """A wish checked whole: one that restricts nothing or allows nothing is refused (the
    latter is a refused channel, said as such)."""
    if kind not in WISH_KINDS:
        raise ValueError(f"{kind!r} is not a kind of wish ({', '.join(WISH_KINDS)})")
    if kind == "not_between":
        if until is None:
            raise ValueError("not between needs two times, HH:MM-HH:MM")
        if until == at:
            raise ValueError(f"not between {at:%H:%M} and {until:%H:%M} is no span")
    elif until is not None:
        raise ValueError(f"{kind.replace('_', ' ')} takes one time")
    if kind == "not_before" and at == time(0):
        raise ValueError("not before 00:00 restricts nothing")
    if kind == "not_after" and at == time(0):
        raise ValueError("not after 00:00 allows no contact: refuse the channel instead")
    if days is not None and not days:
        raise ValueError("names no day")
    return HourWish(kind, at, until, channel, days if days is not None else frozenset(range(7)))


def parse_hours(text: str, channels: Collection[str] | None = None) -> HourWish:
    """One contact-hours wish as text; ``channels``, when given, are those it may name."""
    words = text.strip().split(None)
    lowered = [w.lower() for w in words]
    if "not" not in lowered:
        raise ValueError(f"{text!r}: say not before, not after or not between")
    cut = lowered.index("not")
    head, tail = words[:cut], " ".join(words[cut + 1 :])
    if len(head) > 2:
        raise ValueError(f"{text!r}: at most a channel and days before 'not'")
    channel: str | None = None
    days: frozenset[int] | None = None
    if len(head) == 2 or (head and _looks_like_days(head[0])):
        days = days_of(head[-1])
    if len(head) == 2 or (head and days is None):
        channel = None if head[0] == "*" else known_channel(head[0], channels)
    kind, _, rest = tail.partition(" ")
    kind = kind.lower()
    if kind == "between":
        span = _SPAN.fullmatch(rest.strip())
        if span is None:
            raise ValueError(f"{text!r}: not between needs HH:MM-HH:MM")
        return hour_wish("not_between", clock(span[1]), clock(span[2]), channel, days)
    if kind in ("before", "after"):
        return hour_wish(f"not_{kind}", clock(rest), None, channel, days)
    raise ValueError(f"{text!r}: say not before, not after or not between")


def _looks_like_days(word: str) -> bool:
    return word.lower() in _DAY_NAMES or word.lower()[:3] in WEEKDAYS


def known_channel(name: str, channels: Collection[str] | None) -> str:
    """``name`` if it may be a channel (one of ``channels`` when they are given)."""
    if not _CHANNEL.fullmatch(name):
        raise ValueError(f"{name!r} is not a channel name")
    if channels is not None and name not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ValueError(f"unknown channel {name!r} (known: {known})")
    return name


def refused_channels(
    names: Iterable[str], channels: Collection[str] | None = None
) -> tuple[str, ...]:
    """The channels refused, checked, each once, in the order given."""
    return tuple(dict.fromkeys(known_channel(n.strip(), channels) for n in names))


def language(text: str) -> str:
    """A preferred language as a locale of the templates' file names (en, zh-CN)."""
    if len(text) > 32 or not _LOCALE.fullmatch(text):
        raise ValueError(f"{text!r} is not a language like en or zh-CN")
    return text
