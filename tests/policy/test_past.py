"""A person's attempts sorted once per decision, and how far back a channel's rules can see."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dispatcher.model import Verdict
from dispatcher.policy.past import past_attempts
from tests.policy.conftest import (
    DAYTIME,
    NEW_YORK,
    decide_at,
    limit,
    local,
    make_attempt,
    policy,
)

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_attempts_come_in_time_order_whatever_order_they_were_given_in() -> None:
    history = [make_attempt(NOW - n * HOUR) for n in (5, 1, 9, 3)]
    past = past_attempts(random.Random(1).sample(history, 4))
    assert list(past.times) == sorted(a.at for a in history)
    assert [a.at for a in past.attempts] == list(past.times)


def test_attempts_at_or_before_the_cut_off_are_left_out() -> None:
    history = [make_attempt(NOW - n * HOUR) for n in (1, 2, 3)]
    past = past_attempts(history, NOW - 2 * HOUR)
    assert list(past.times) == [NOW - HOUR]
    assert past_attempts(past) is past


def test_after_between_and_count_after_read_the_stretch_they_name() -> None:
    past = past_attempts([make_attempt(NOW - n * HOUR) for n in (1, 2, 3, 4)])
    assert [a.at for a in past.after(NOW - 3 * HOUR)] == [NOW - 2 * HOUR, NOW - HOUR]
    assert past.count_after(NOW - 3 * HOUR) == 2
    assert past.count_after(NOW) == 0
    between = past.between(NOW - 3 * HOUR, NOW - HOUR)  # start included, end not
    assert [a.at for a in between] == [NOW - 3 * HOUR, NOW - 2 * HOUR]


def test_a_channels_horizon_is_the_longest_reach_of_its_rules() -> None:
    compiled = policy(
        limits=[limit(3, "1d", channels=["sms"]), limit(7, "7d", channels=["voice"])],
        min_gap={"every": "4h", "channels": ["email"]},
        cooldown={"channels": ["voice"], "per": "7d", "calendar": True},
    )
    assert compiled.rules_for("sms").horizon == timedelta(days=1)
    assert compiled.rules_for("email").horizon == timedelta(hours=4)
    # Calendar cooldown: the conversation's local day and a DST hour besides.
    assert compiled.rules_for("voice").horizon == timedelta(days=9)
    assert compiled.rules_for("letter").horizon == timedelta(0)


def test_an_attempt_just_inside_a_limits_period_still_binds() -> None:
    compiled = policy(windows=[DAYTIME], limits=[limit(1, "1d")])
    now = local(NEW_YORK, 2026, 11, 3, 12)
    edge = make_attempt(now - timedelta(days=1) + timedelta(seconds=1))
    older = make_attempt(now - timedelta(days=1))
    deferred = decide_at(compiled, now, history=[older, edge])
    assert deferred.verdict is Verdict.DEFER
    assert deferred.until == edge.at + timedelta(days=1)
    assert decide_at(compiled, now, history=[older]).verdict is Verdict.SEND
