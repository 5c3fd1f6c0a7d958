"""Rolling-window limits, minimum gap and conversation cooldown, alone and through ``decide``."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from dispatcher.model import Attempt, CaseState, OptOut, Outcome, Verdict
from dispatcher.policy import decide
from dispatcher.policy.limits import (
    Cooldown,
    Gap,
    Limit,
    cooldown_clears_at,
    gap_clears_at,
    limit_clears_at,
)
from tests.policy.conftest import (
    DAYTIME,
    LONDON,
    NEW_YORK,
    ONE_DAY,
    PHONE_1,
    PHONE_2,
    codes,
    decide_at,
    limit,
    local,
    make_attempt,
    make_case,
    make_person,
    make_reminder,
    policy,
    wall,
)

NOW = local(NEW_YORK, 2026, 6, 10, 12, 0)
HOUR = timedelta(hours=1)


def compiled_limit(max_: int, per: str, **kwargs: Any) -> Limit:
    (rule,) = policy(limits=[limit(max_, per, **kwargs)]).limits
    return rule


def clears(rule: Limit, history: Sequence[Attempt], at: datetime = NOW) -> datetime:
    return limit_clears_at(rule, history, at=at, case_id="C1", contact=PHONE_1.value)


# -- limit_clears_at -----------------------------------------------------------------------


def test_fewer_than_max_attempts_allow_now() -> None:
    history = [make_attempt(NOW - 3 * HOUR), make_attempt(NOW - HOUR)]
    assert clears(compiled_limit(3, "1d"), history) == NOW


def test_max_attempts_clear_when_the_oldest_leaves_the_window() -> None:
    t1, t2, t3 = NOW - 20 * HOUR, NOW - 5 * HOUR, NOW - HOUR
    # Out of order on purpose: the store returns them as it likes.
    history = [make_attempt(t2), make_attempt(t3), make_attempt(t1)]
    assert clears(compiled_limit(3, "1d"), history) == t1 + ONE_DAY


@pytest.mark.parametrize("count", [4, 5, 7])
def test_more_than_max_attempts_clear_when_enough_have_left(count: int) -> None:
    # After a config lowers max, the (count-max+1)-th oldest must leave before one more fits.
    times = [NOW - timedelta(hours=22 - 3 * i) for i in range(count)]
    history = [make_attempt(t) for t in times]
    assert clears(compiled_limit(3, "1d"), history) == times[count - 3] + ONE_DAY


def test_an_attempt_exactly_one_period_ago_has_left_the_window() -> None:
    history = [make_attempt(NOW - ONE_DAY), make_attempt(NOW - HOUR), make_attempt(NOW)]
    assert clears(compiled_limit(3, "1d"), history) == NOW
    history.append(make_attempt(NOW - ONE_DAY + timedelta(microseconds=1)))
    assert clears(compiled_limit(3, "1d"), history) == NOW + timedelta(microseconds=1)


def test_attempts_refused_before_contact_do_not_count() -> None:
    history = [
        make_attempt(NOW - 3 * HOUR),
        make_attempt(NOW - 2 * HOUR, counted=False),
        make_attempt(NOW - HOUR),
    ]
    assert clears(compiled_limit(3, "1d"), history) == NOW
    history.append(make_attempt(NOW - timedelta(minutes=30)))
    assert clears(compiled_limit(3, "1d"), history) == NOW - 3 * HOUR + ONE_DAY


@pytest.mark.parametrize(
    ("channels", "attempt_channel", "counts"),
    [
        (["voice"], "voice", True),
        (["voice"], "sms", False),
        (["sms", "voice"], "sms", True),
        (["*"], "email", True),
        (["*"], "letter", True),
    ],
)
def test_a_limit_counts_only_attempts_on_its_channels(
    channels: list[str], attempt_channel: str, counts: bool
) -> None:
    rule = compiled_limit(1, "1d", channels=channels)
    history = [make_attempt(NOW - HOUR, channel=attempt_channel)]
    expected = NOW - HOUR + ONE_DAY if counts else NOW
    assert clears(rule, history) == expected


@pytest.mark.parametrize(
    ("scope", "case_id", "contact", "counts"),
    [
        ("person", "C1", PHONE_1.value, True),
        ("person", "C2", PHONE_2.value, True),
        ("case", "C1", PHONE_2.value, True),
        ("case", "C2", PHONE_1.value, False),
        ("contact", "C2", PHONE_1.value, True),
        ("contact", "C1", PHONE_2.value, False),
    ],
)
def test_a_limit_counts_only_attempts_in_its_scope(
    scope: str, case_id: str, contact: str, counts: bool
) -> None:
    rule = compiled_limit(1, "1d", scope=scope)
    history = [make_attempt(NOW - HOUR, case_id=case_id, contact=contact)]
    expected = NOW - HOUR + ONE_DAY if counts else NOW
    assert clears(rule, history) == expected


# -- gap_clears_at and cooldown_clears_at --------------------------------------------------


def test_gap_runs_from_the_last_contact() -> None:
    gap = Gap(timedelta(hours=4), frozenset({"*"}))
    history = [make_attempt(NOW - 2 * HOUR), make_attempt(NOW - 3 * HOUR)]
    assert gap_clears_at(gap, history, at=NOW) == NOW - 2 * HOUR + 4 * HOUR
    assert gap_clears_at(gap, history, at=NOW + 3 * HOUR) == NOW + 3 * HOUR


def test_gap_ignores_uncounted_attempts_and_other_channels() -> None:
    gap = Gap(timedelta(hours=4), frozenset({"sms", "voice"}))
    history = [
        make_attempt(NOW - 3 * HOUR, channel="voice"),
        make_attempt(NOW - 2 * HOUR, counted=False),
        make_attempt(NOW - HOUR, channel="email"),
    ]
    assert gap_clears_at(gap, history, at=NOW) == NOW + HOUR


@pytest.mark.parametrize(
    ("scope", "case_id", "outcome", "blocks"),
    [
        ("case", "C1", Outcome.CONVERSATION, True),
        ("case", "C2", Outcome.CONVERSATION, False),
        ("person", "C2", Outcome.CONVERSATION, True),
        ("case", "C1", Outcome.PLACED, False),
        ("case", "C1", Outcome.DELIVERED, False),
    ],
)
def test_cooldown_follows_a_conversation_in_its_scope(
    scope: str, case_id: str, outcome: Outcome, blocks: bool
) -> None:
    cooldown = Cooldown(frozenset({"voice"}), timedelta(days=7), scope)
    talk = NOW - ONE_DAY
    history = [make_attempt(talk, channel="voice", case_id=case_id, outcome=outcome)]
    expected = talk + timedelta(days=7) if blocks else NOW
    assert cooldown_clears_at(cooldown, history, at=NOW, case_id="C1") == expected


# -- through decide ------------------------------------------------------------------------

DAY_LIMIT = policy(windows=[DAYTIME], limits=[limit(3, "1d")])


def test_exactly_max_sends_then_a_deferral_to_when_the_oldest_leaves() -> None:
    t1 = local(NEW_YORK, 2026, 6, 9, 10, 0)
    t2 = local(NEW_YORK, 2026, 6, 9, 14, 0)
    t3 = local(NEW_YORK, 2026, 6, 10, 8, 30)
    history: list[Attempt] = []
    for t in (t1, t2, t3):
        assert decide_at(DAY_LIMIT, t, history=history).verdict is Verdict.SEND
        history.append(make_attempt(t))
    now = local(NEW_YORK, 2026, 6, 10, 9, 0)
    decision = decide_at(DAY_LIMIT, now, history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == t1 + ONE_DAY
    assert codes(decision) == ["rate_limit"]
    assert decide_at(DAY_LIMIT, t1 + ONE_DAY, history=history).verdict is Verdict.SEND
    assert decide_at(DAY_LIMIT, t1 + ONE_DAY - timedelta(seconds=1), history=history).verdict is (
        Verdict.DEFER
    )


def test_more_than_max_in_the_window_defers_until_enough_have_left() -> None:
    times = [local(NEW_YORK, 2026, 6, 9, h) for h in (10, 12, 14, 16, 18)]
    history = [make_attempt(t) for t in times]
    decision = decide_at(DAY_LIMIT, local(NEW_YORK, 2026, 6, 10, 9), history=history)
    assert decision.until == times[5 - 3] + ONE_DAY  # t_{k-max+1} + per, 1-based


def test_refused_attempts_are_not_counted_by_decide() -> None:
    times = [local(NEW_YORK, 2026, 6, 10, h) for h in (9, 10, 11)]
    history = [make_attempt(t, counted=False) for t in times]
    assert decide_at(DAY_LIMIT, local(NEW_YORK, 2026, 6, 10, 12), history=history).verdict is (
        Verdict.SEND
    )


def test_a_limit_on_voice_does_not_defer_sms() -> None:
    compiled = policy(limits=[limit(1, "1d", channels=["voice"])])
    history = [make_attempt(NOW - HOUR, channel="voice")]
    assert decide_at(compiled, NOW, history=history).verdict is Verdict.SEND
    voice = decide_at(compiled, NOW, reminder=make_reminder(channel="voice"), history=history)
    assert voice.verdict is Verdict.DEFER
    assert voice.until == NOW - HOUR + ONE_DAY


def test_a_limit_of_zero_suppresses_its_channels_only() -> None:
    compiled = policy(limits=[limit(0, "1d", channels=["sms"])])
    sms = decide_at(compiled, NOW)
    assert sms.verdict is Verdict.SUPPRESS and codes(sms) == ["rate_limit"]
    assert sms.reasons[0].text == "sms is limited to 0 contacts"
    assert sms.contact == PHONE_1 and sms.zones == (NEW_YORK,) and sms.zone_source == "person"
    voice = decide_at(compiled, NOW, reminder=make_reminder(channel="voice"))
    assert voice.verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("scope", "other", "deferred"),
    [
        ("person", {"case_id": "C2"}, True),
        ("case", {"case_id": "C2"}, False),
        ("case", {"contact": PHONE_2.value}, True),
        ("contact", {"contact": PHONE_2.value}, False),
        ("contact", {"case_id": "C2"}, True),
    ],
)
def test_decide_counts_attempts_in_the_limits_scope(
    scope: str, other: dict[str, str], deferred: bool
) -> None:
    compiled = policy(limits=[limit(2, "1d", scope=scope)])
    history = [make_attempt(NOW - 2 * HOUR), make_attempt(NOW - HOUR, **other)]
    decision = decide_at(compiled, NOW, history=history)
    assert decision.verdict is (Verdict.DEFER if deferred else Verdict.SEND)


def test_contact_scope_follows_the_chosen_contact() -> None:
    # With the first number opted out, attempts to it no longer count for the second.
    compiled = policy(limits=[limit(1, "1d", scope="contact")])
    history = [make_attempt(NOW - HOUR, contact=PHONE_1.value)]
    who = make_person(opt_outs=[OptOut("sms", PHONE_1.value)])
    decision = decide_at(compiled, NOW, person=who, history=history)
    assert decision.verdict is Verdict.SEND
    assert decision.contact == PHONE_2


@pytest.mark.parametrize(
    ("channel", "verdict"), [("voice", Verdict.SUPPRESS), ("sms", Verdict.SEND)]
)
def test_max_zero_suppresses_its_channels(channel: str, verdict: Verdict) -> None:
    compiled = policy(limits=[limit(0, "1d", channels=["voice"])])
    decision = decide_at(compiled, NOW, reminder=make_reminder(channel=channel))
    assert decision.verdict is verdict
    if verdict is Verdict.SUPPRESS:
        assert codes(decision) == ["rate_limit"]
        assert not decision.cancels


GAPPED = policy(min_gap={"every": "4h", "channels": ["sms", "voice"]})


@pytest.mark.parametrize(
    ("last_channel", "channel", "gapped"),
    [
        ("sms", "sms", True),
        ("voice", "sms", True),  # any gapped channel counts as the last contact
        ("email", "sms", False),  # email is not in the gap's list
        ("sms", "email", False),
        ("letter", "voice", False),
    ],
)
def test_minimum_gap_between_contacts(last_channel: str, channel: str, gapped: bool) -> None:
    last = make_attempt(NOW - HOUR, channel=last_channel)
    decision = decide_at(GAPPED, NOW, reminder=make_reminder(channel=channel), history=[last])
    if gapped:
        assert decision.verdict is Verdict.DEFER
        assert decision.until == last.at + timedelta(hours=4)
        assert codes(decision) == ["min_gap"]
    else:
        assert decision.verdict is Verdict.SEND


def test_minimum_gap_is_measured_from_the_latest_contact() -> None:
    history = [make_attempt(NOW - 3 * HOUR), make_attempt(NOW - HOUR), make_attempt(NOW - 2 * HOUR)]
    decision = decide_at(GAPPED, NOW, history=history)
    assert decision.until == NOW + 3 * HOUR


@pytest.mark.parametrize(
    ("scope", "reminder_case", "channel", "deferred"),
    [
        ("case", "C1", "voice", True),
        ("case", "C2", "voice", False),  # another debt is not affected
        ("person", "C2", "voice", True),
        ("case", "C1", "sms", False),  # sms is not in the cooldown's channels
    ],
)
def test_conversation_cooldown(
    scope: str, reminder_case: str, channel: str, deferred: bool
) -> None:
    compiled = policy(cooldown={"channels": ["voice"], "per": "7d", "scope": scope})
    talk = make_attempt(NOW - 2 * ONE_DAY, channel="voice", outcome=Outcome.CONVERSATION)
    reminder = make_reminder(channel=channel, case_id=reminder_case)
    case = make_case(id=reminder_case)
    decision = decide_at(compiled, NOW, reminder=reminder, case=case, history=[talk])
    if deferred:
        assert decision.verdict is Verdict.DEFER
        assert decision.until == talk.at + timedelta(days=7)
        assert codes(decision) == ["cooldown"]
    else:
        assert decision.verdict is Verdict.SEND


def test_cooldown_on_every_channel_covers_voice() -> None:
    # "*" means every channel for windows, limits and the gap; the cooldown reads the same.
    compiled = policy(cooldown={"channels": ["*"], "per": "7d", "scope": "case"})
    talk = make_attempt(NOW - 2 * ONE_DAY, channel="voice", outcome=Outcome.CONVERSATION)
    decision = decide_at(compiled, NOW, reminder=make_reminder(channel="voice"), history=[talk])
    assert decision.verdict is Verdict.DEFER
    assert decision.until == talk.at + timedelta(days=7)


def test_a_plan_date_and_a_limit_defer_to_the_later_of_the_two() -> None:
    times = [NOW - 20 * HOUR, NOW - 10 * HOUR, NOW - HOUR]
    history = [make_attempt(t) for t in times]
    paused = make_case(state=CaseState.PLAN, paused_until=NOW + 2 * HOUR)
    decision = decide_at(DAY_LIMIT, NOW, case=paused, history=history)
    assert decision.until == times[0] + ONE_DAY  # 16:00, after the plan's 14:00
    assert {"case_plan", "rate_limit"} <= set(codes(decision))


# -- simulated weeks: sends never exceed a limit in any rolling window ------------------------


def most_in_any_window(times: Sequence[datetime], per: timedelta) -> int:
    """The largest number of ``times`` inside one rolling ``per`` (a window ending at each)."""
    return max((sum(1 for u in times if t - per < u <= t) for t in times), default=0)


SIM_LIMITS = [
    limit(3, "1d", channels=["sms", "voice"]),
    limit(7, "7d", channels=["voice"], scope="case"),
    limit(5, "2d", scope="contact"),
]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("zone", "start"),
    [
        (NEW_YORK, local(NEW_YORK, 2026, 2, 25, 9)),  # US spring forward on 03-08
        (LONDON, local(LONDON, 2026, 3, 20, 9)),  # UK spring forward on 03-29
        (NEW_YORK, local(NEW_YORK, 2026, 10, 15, 9)),  # both fall backs
    ],
)
def test_simulated_sends_never_exceed_any_rolling_limit(
    zone: str, start: datetime, seed: int
) -> None:
    rng = random.Random(seed)
    compiled = policy(windows=[DAYTIME], limits=SIM_LIMITS)
    who = make_person(timezone=zone)
    cases = {"C1": make_case(), "C2": make_case(id="C2")}
    reminders = [
        make_reminder(id=1, channel="sms"),
        make_reminder(id=2, channel="voice"),
        make_reminder(id=3, channel="voice", case_id="C2"),
        make_reminder(id=4, channel="email"),
    ]
    history: list[Attempt] = []
    now, end = start, start + timedelta(days=40)
    for _ in range(10_000):
        if now >= end:
            break
        reminder = rng.choice(reminders)
        decision = decide(compiled, reminder, who, cases[reminder.case_id], history, now)
        if decision.verdict is Verdict.SEND:
            assert decision.contact is not None
            # One in ten is refused by the provider before contact and must not count.
            history.append(
                make_attempt(
                    now,
                    channel=reminder.channel,
                    case_id=reminder.case_id,
                    contact=decision.contact.value,
                    counted=rng.random() > 0.1,
                )
            )
            now += timedelta(minutes=rng.randint(0, 90))
        else:
            assert decision.verdict is Verdict.DEFER
            assert decision.until is not None and decision.until > now
            now = decision.until + timedelta(seconds=rng.choice([0, 0, 1, 90, 1800]))
    else:
        pytest.fail("the simulation did not reach its end")

    for sent in history:
        assert time(8) <= wall(sent.at, zone).time() < time(21)
    counted = [a for a in history if a.counted]
    person_day = [a.at for a in counted if a.channel in ("sms", "voice")]
    assert most_in_any_window(person_day, ONE_DAY) == 3
    for case_id in ("C1", "C2"):
        voice = [a.at for a in counted if a.channel == "voice" and a.case_id == case_id]
        assert most_in_any_window(voice, timedelta(days=7)) <= 7
    for value in {a.contact for a in counted}:
        per_contact = [a.at for a in counted if a.contact == value]
        assert most_in_any_window(per_contact, timedelta(days=2)) <= 5
    assert len(counted) < len(history)


@pytest.mark.parametrize("seed", range(3))
def test_simulated_single_limit_defers_exactly_to_the_oldest_leaving(seed: int) -> None:
    rng = random.Random(seed)
    per = ONE_DAY
    compiled = policy(limits=[limit(3, "1d")])
    history: list[Attempt] = []
    now = local(NEW_YORK, 2026, 3, 1, 9)
    deferrals = 0
    for _ in range(400):
        decision = decide_at(compiled, now, history=history)
        if decision.verdict is Verdict.SEND:
            history.append(make_attempt(now))
            now += timedelta(minutes=rng.randint(0, 300))
            continue
        in_window = sorted(a.at for a in history if now - per < a.at <= now)
        assert len(in_window) == 3
        assert decision.until == in_window[0] + per
        deferrals += 1
        now = decision.until + timedelta(seconds=rng.choice([0, 0, 30]))
    assert deferrals > 50
    assert most_in_any_window([a.at for a in history], per) == 3
