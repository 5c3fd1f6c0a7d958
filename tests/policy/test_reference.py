"""``decide`` gives exactly the decision of the straightforward reading in ``reference.py``.

Generated cases cover windows (across midnight, to 24:00, on some weekdays), rolling limits of
every scope, daily caps of every kind (a cap of zero too), the minimum gap, cooldowns (calendar
days or not), holiday calendars, people in zones with DST and half-hour offsets or with no zone
at all (candidates from phone numbers and addresses), instants near DST changes and holidays,
every case state, opt-outs, and histories of up to 60 attempts over a month (some a little in
the future, some on other cases and addresses). A speed-up that changes any decision, its
instant, its reasons or their texts fails here.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.config import PolicyFile
from dispatcher.config.durations import parse_duration
from dispatcher.model import (
    Attempt,
    BreathingSpace,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    OptOut,
    Outcome,
    Person,
    Reminder,
)
from dispatcher.policy import Policy, compile_policy, decide
from tests.policy.conftest import CHANNELS, DUE
from tests.policy.reference import reference_decide

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # a half-hour DST change
    "America/St_Johns",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Shanghai",
    "UTC",
)
# Near DST changes (US, EU, Australia), holidays (Christmas, New Year, Golden Week), weekdays.
MOMENTS = tuple(
    datetime(*parts, tzinfo=UTC)
    for parts in (
        (2026, 3, 8, 7),
        (2026, 11, 1, 6),
        (2026, 3, 29, 1),
        (2026, 10, 25, 1),
        (2026, 4, 4, 15),
        (2026, 10, 3, 15),
        (2026, 12, 24, 20),
        (2026, 12, 31, 23),
        (2026, 10, 1, 2),
        (2026, 6, 17, 12),
    )
)
PHONES = ("+12125550100", "+13105550101", "+8613800000000", "+447700900123")
ADDRESSES = ("1 Main St\nBoston, MA 02110", "2 George St\nSydney NSW 2000", "3 Rd\nFrance")
HISTORY_CHANNELS = ("sms", "voice", "email", "letter", "postcard", "field_visit")
CHANNEL_SETS = (("*",), ("sms",), ("voice",), ("sms", "voice"), ("email", "letter"))
PERIODS = ("30m", "4h", "1d", "3d", "7d", "30d")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock(rng: random.Random) -> str:
    return rng.choice(("00:00", "06:30", "08:00", "09:15", "12:00", "17:45", "21:00", "24:00"))


def _window(rng: random.Random) -> dict[str, Any]:
    start, end = _clock(rng), _clock(rng)
    while end == start or start == "24:00":
        start, end = _clock(rng), _clock(rng)
    days = sorted(rng.sample(range(7), rng.randint(1, 7)))
    return {
        "channels": list(rng.choice(CHANNEL_SETS)),
        "days": [WEEKDAYS[d] for d in days],
        "from": start,
        "to": end,
    }


def random_policy(rng: random.Random) -> Policy:
    """A policy of a few rules of every kind, over a preset now and then."""
    source: dict[str, Any] = {
        "preset": rng.choice(("none", "none", "us-reg-f", "cn")),
        "jitter": rng.choice(("0s", "20m", "2h")),
        "window_exempt": rng.choice(([], ["letter"], ["postcard"])),
        "windows": [_window(rng) for _ in range(rng.randint(0, 3))],
        "limits": [
            {
                "channels": list(rng.choice(CHANNEL_SETS)),
                "max": rng.choice((1, 2, 3, 5, 8, 12)) if rng.random() < 0.97 else 0,
                "per": rng.choice(PERIODS),
                "scope": rng.choice(("person", "case", "contact")),
            }
            for _ in range(rng.randint(0, 3))
        ],
        "daily_caps": [
            {
                "channels": list(rng.choice(CHANNEL_SETS)),
                "max": rng.choice((0, 1, 2, 3, 6)),
                "scope": rng.choice(("person", "case", "contact")),
                "count": rng.choice(("attempts", "conversations", "unanswered")),
            }
            for _ in range(rng.choice((0, 0, 1, 2)))
        ],
        "holidays": [
            {"calendar": code, "channels": list(rng.choice(CHANNEL_SETS))}
            for code in rng.sample(("US", "GB", "CN", "AU"), rng.choice((0, 0, 1, 2)))
        ],
    }
    if rng.random() < 0.7:
        every = rng.choice(("0s", "30m", "4h", "1d"))
        source["min_gap"] = {"every": every, "channels": list(rng.choice(CHANNEL_SETS))}
    if rng.random() < 0.5:
        source["cooldown"] = {
            "channels": list(rng.choice(CHANNEL_SETS)),
            "per": rng.choice(("12h", "1d", "7d")),
            "scope": rng.choice(("person", "case")),
            "calendar": rng.random() < 0.5,
        }
    return compile_policy(
        PolicyFile.model_validate(source),
        channels=CHANNELS,
        fallback_timezone=rng.choice(ZONES),
        after_cease=[("sms", "final_notice")] if rng.random() < 0.5 else [],
    )


def random_person(rng: random.Random) -> Person:
    contacts = [
        ContactPoint(1, ContactKind.PHONE, rng.choice(PHONES)),
        ContactPoint(2, ContactKind.PHONE, rng.choice(PHONES), priority=rng.choice((0, 1))),
        ContactPoint(3, ContactKind.EMAIL, "p1@example.com"),
        ContactPoint(4, ContactKind.POSTAL, rng.choice(ADDRESSES)),
    ]
    contacts = rng.sample(contacts, rng.randint(1, 4))
    if rng.random() < 0.05:
        dead = contacts[0]
        contacts[0] = ContactPoint(dead.id, dead.kind, dead.value, "invalid", dead.priority)
    opt_outs = []
    if rng.random() < 0.05:
        opt_outs.append(OptOut(rng.choice(("sms", "voice", "*")), rng.choice((None, PHONES[0]))))
    zone = rng.choice(ZONES) if rng.random() < 0.8 else None
    return Person("P1", "Pat Example", "en", zone, tuple(contacts), tuple(opt_outs))


def random_case(rng: random.Random, now: datetime) -> Case:
    state = rng.choice(list(CaseState)) if rng.random() < 0.25 else CaseState.OPEN
    paused = None
    if state in (CaseState.PLAN, CaseState.HARDSHIP) and rng.random() < 0.8:
        paused = now + timedelta(hours=rng.randint(-72, 400))
    space = None
    if rng.random() < 0.1:  # a Breathing Space moratorium, running, ended or open-ended
        start = now - timedelta(hours=rng.randint(0, 2000))
        until = None if rng.random() < 0.2 else start + timedelta(hours=rng.randint(1, 2400))
        space = BreathingSpace(start, until, until is None or rng.random() < 0.3)
    return Case(
        "C1", "P1", "100.00", "USD", DUE.date(), state, "standard", paused, breathing_space=space
    )


# Attempts this long before ``now`` (give or take two hours) sit at the edge of some rule's
# period: where a cut-off or a bisection that is one off would show.
EDGES = tuple(int(parse_duration(p).total_seconds()) for p in (*PERIODS, "12h", "2d", "9d"))


def _ago(rng: random.Random) -> int:
    """Seconds before now: at a rule's edge, in a burst of recent ones, or anywhere in a month
    (a little in the future now and then)."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(EDGES) + rng.randint(-7200, 7200)
    if roll < 0.6:
        return rng.randint(0, 6 * 3600)
    return rng.randint(-3600, 31 * 86400)


def random_history(rng: random.Random, person: Person, now: datetime) -> list[Attempt]:
    values = [c.value for c in person.contacts] + ["+15550009999"]
    count = rng.choice((0, 1, 3, 7, 12, 30, 60))
    return [
        Attempt(
            f"A{i}",
            None,
            "P1",
            "C1" if rng.random() < 0.75 else "C2",
            rng.choice(HISTORY_CHANNELS),
            rng.choice(values),
            now - timedelta(seconds=_ago(rng)),
            rng.choice(list(Outcome)),
            rng.random() < 0.9,
        )
        for i in range(count)
    ]


def random_decision_inputs(seed: int) -> tuple[Any, ...]:
    """(policy, reminder, person, case, history, now) from ``seed``."""
    rng = random.Random(seed)
    policy = random_policy(rng)
    now = rng.choice(MOMENTS) + timedelta(seconds=rng.randint(-3 * 86400, 3 * 86400))
    person = random_person(rng)
    channel = rng.choice((*CHANNELS, "fax"))
    template = rng.choice(("first_notice", "final_notice"))
    reminder = Reminder(
        rng.randint(1, 10**6), "C1", "P1", "standard", "1", channel, template, DUE, DUE
    )
    return policy, reminder, person, random_case(rng, now), random_history(rng, person, now), now


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_decide_is_the_reference_reading(seed: int) -> None:
    inputs = random_decision_inputs(seed)
    assert decide(*inputs) == reference_decide(*inputs)


def test_decide_is_the_reference_reading_on_a_fixed_sweep() -> None:
    # Hypothesis explores; this pins a broad, repeatable sample, and checks it covers the
    # rules it is meant to exercise.
    codes: set[str] = set()
    verdicts: set[str] = set()
    for seed in range(1500):
        inputs = random_decision_inputs(seed)
        expected = reference_decide(*inputs)
        assert decide(*inputs) == expected, f"seed {seed}"
        codes.update(r.code for r in expected.reasons)
        verdicts.add(expected.verdict.value)
    assert verdicts == {"send", "defer", "suppress"}
    assert {"quiet_hours", "holiday", "rate_limit", "daily_cap", "min_gap", "cooldown"} <= codes


def test_the_order_of_the_history_does_not_change_a_decision() -> None:
    for seed in range(300):
        policy, reminder, person, case, history, now = random_decision_inputs(seed)
        shuffled = random.Random(seed).sample(history, len(history))
        assert decide(policy, reminder, person, case, shuffled, now) == decide(
            policy, reminder, person, case, history, now
        )
