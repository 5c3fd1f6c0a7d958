"""The person's own wishes in the policy: a refused channel suppresses with ``preference``;
each wish about hours defers to when it and every rule allow, never earlier than the rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from dispatcher.model import HourWish, Person, Verdict, Wishes
from dispatcher.policy.wishes import open_windows
from tests.policy.conftest import (
    DAYTIME,
    NEW_YORK,
    SHANGHAI,
    codes,
    decide_at,
    local,
    make_person,
    make_reminder,
    policy,
    wall,
    window,
)

WEEKDAYS = frozenset(range(5))


def wishing(*hours: HourWish, refused: tuple[str, ...] = (), zone: str = NEW_YORK) -> Person:
    return replace(make_person(timezone=zone), wishes=Wishes(refused, hours))


NOT_BEFORE_10 = HourWish("not_before", time(10, 0))
NO_CALLS_OFFICE_HOURS = HourWish("not_between", time(9), time(17), "voice", WEEKDAYS)


def test_a_refused_channel_is_suppressed_with_preference_and_others_still_go() -> None:
    person = wishing(refused=("sms",))
    at = local(NEW_YORK, 2026, 6, 10, 12)  # a Wednesday
    sms = decide_at(policy(windows=[DAYTIME]), at, person=person)
    assert sms.verdict is Verdict.SUPPRESS and codes(sms) == ["preference"]
    assert "refused sms" in sms.reasons[0].text
    email = decide_at(
        policy(windows=[DAYTIME]), at, person=person, reminder=make_reminder(channel="email")
    )
    assert email.verdict is Verdict.SEND


def test_not_before_10_defers_a_9_oclock_contact_to_10_local_with_preference() -> None:
    compiled = policy(windows=[DAYTIME], jitter="20m")
    decision = decide_at(compiled, local(NEW_YORK, 2026, 6, 10, 9), person=wishing(NOT_BEFORE_10))
    assert decision.verdict is Verdict.DEFER and codes(decision) == ["preference"]
    assert decision.until is not None
    until = wall(decision.until, NEW_YORK)
    assert until.date().day == 10 and time(10) <= until.time() < time(10, 20)
    assert "no contact before 10:00" in decision.reasons[0].text


def test_a_wish_never_widens_the_rules_windows() -> None:
    # The rules close at 21:00; a wish "not before 20:55" leaves five minutes, and the
    # jitter must not spread past the rules' close.
    compiled = policy(windows=[DAYTIME], jitter="20m")
    person = wishing(HourWish("not_before", time(20, 55)))
    decision = decide_at(compiled, local(NEW_YORK, 2026, 6, 10, 12), person=person)
    assert decision.verdict is Verdict.DEFER and decision.until is not None
    until = wall(decision.until, NEW_YORK)
    assert time(20, 55) <= until.time() < time(21)
    # A wish "not after 23:00" allows nothing the rules keep closed: 22:00 is still quiet.
    late = decide_at(
        compiled,
        local(NEW_YORK, 2026, 6, 10, 22),
        person=wishing(HourWish("not_after", time(23))),
    )
    assert late.verdict is Verdict.DEFER and codes(late) == ["quiet_hours"]


def test_rules_and_wishes_are_both_held_when_one_moves_past_the_other() -> None:
    # Rules 08:00–21:00; no calls 09:00–17:00 on weekdays: a Friday 08:59 is allowed, at
    # 09:00 the call waits until 17:00, on Saturday at 09:00 it goes.
    compiled = policy(windows=[DAYTIME])
    person = wishing(NO_CALLS_OFFICE_HOURS)
    call = make_reminder(channel="voice")
    early = decide_at(compiled, local(NEW_YORK, 2026, 6, 12, 8, 59), person=person, reminder=call)
    assert early.verdict is Verdict.SEND
    office = decide_at(compiled, local(NEW_YORK, 2026, 6, 12, 9), person=person, reminder=call)
    assert office.verdict is Verdict.DEFER and codes(office) == ["preference"]
    assert office.until is not None and wall(office.until, NEW_YORK).time() >= time(17)
    saturday = decide_at(compiled, local(NEW_YORK, 2026, 6, 13, 9), person=person, reminder=call)
    assert saturday.verdict is Verdict.SEND
    # The wish names calls only: an sms in office hours goes.
    sms = decide_at(compiled, local(NEW_YORK, 2026, 6, 12, 9), person=person)
    assert sms.verdict is Verdict.SEND


def test_a_span_past_midnight_is_read_per_day() -> None:
    compiled = policy(windows=[window("00:00", "24:00")])
    person = wishing(HourWish("not_between", time(21), time(8)), zone=SHANGHAI)
    night = decide_at(compiled, local(SHANGHAI, 2026, 6, 10, 23), person=person)
    assert night.verdict is Verdict.DEFER and codes(night) == ["preference"]
    assert night.until is not None
    assert wall(night.until, SHANGHAI).date().day == 11
    assert wall(night.until, SHANGHAI).time() >= time(8)
    morning = decide_at(compiled, local(SHANGHAI, 2026, 6, 10, 7), person=person)
    assert morning.verdict is Verdict.DEFER
    noon = decide_at(compiled, local(SHANGHAI, 2026, 6, 10, 12), person=person)
    assert noon.verdict is Verdict.SEND


def test_a_window_exempt_channel_is_not_held_to_hours_but_to_refusal() -> None:
    compiled = policy(windows=[DAYTIME])
    letter = make_reminder(channel="letter")
    at = local(NEW_YORK, 2026, 6, 10, 9)
    assert decide_at(compiled, at, person=wishing(NOT_BEFORE_10), reminder=letter).verdict is (
        Verdict.SEND
    )
    refused = decide_at(compiled, at, person=wishing(refused=("letter",)), reminder=letter)
    assert refused.verdict is Verdict.SUPPRESS and codes(refused) == ["preference"]


@pytest.mark.parametrize(
    ("wish", "hour", "allowed"),
    [
        (NOT_BEFORE_10, 9, False),
        (NOT_BEFORE_10, 10, True),
        (HourWish("not_after", time(18)), 17, True),
        (HourWish("not_after", time(18)), 18, False),
        (HourWish("not_between", time(12), time(14)), 13, False),
        (HourWish("not_between", time(12), time(14)), 14, True),
        (HourWish("not_before", time(10), days=frozenset({5, 6})), 9, True),  # a Wednesday
    ],
)
def test_every_kind_of_wish_over_a_day(wish: HourWish, hour: int, allowed: bool) -> None:
    compiled = policy(windows=[window("00:00", "24:00")])
    decision = decide_at(compiled, local(NEW_YORK, 2026, 6, 10, hour), person=wishing(wish))
    assert (decision.verdict is Verdict.SEND) is allowed


def test_the_same_wish_gives_the_same_windows() -> None:
    # The windows' caches key on identity: a wish must not make new windows per decision.
    first = open_windows(HourWish("not_before", time(10)))
    assert open_windows(HourWish("not_before", time(10))) is first


def test_a_week_of_calls_never_rings_before_10_local() -> None:
    compiled = policy(windows=[DAYTIME])
    person = wishing(HourWish("not_before", time(10), channel="voice"))
    call = make_reminder(channel="voice")
    at = local(NEW_YORK, 2026, 6, 8)
    sent = []
    while at < local(NEW_YORK, 2026, 6, 15):
        if decide_at(compiled, at, person=person, reminder=call).verdict is Verdict.SEND:
            sent.append(wall(at, NEW_YORK))
        at += timedelta(minutes=15)
    assert sent and all(time(10) <= s.time() < time(21) for s in sent)


def test_a_wish_that_leaves_no_hour_the_rules_allow_means_no_contact() -> None:
    # The rules open at 08:00; the person wants nothing after 08:00: never a send, each
    # decision a deferral, none of them looser than either.
    compiled = policy(windows=[DAYTIME])
    person = wishing(HourWish("not_after", time(8)))
    at = local(NEW_YORK, 2026, 6, 8)
    while at < local(NEW_YORK, 2026, 6, 15):
        decision = decide_at(compiled, at, person=person)
        assert decision.verdict is Verdict.DEFER, wall(at, NEW_YORK)
        at += timedelta(minutes=30)
