"""The presets, row by row of the policy design's tables, with a controlled clock.

Each test names the rule it proves; removing the rule from the preset makes it fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from dispatcher.config import PolicyFile
from dispatcher.model import (
    Attempt,
    CaseState,
    ContactKind,
    ContactPoint,
    Decision,
    OptOut,
    Outcome,
    Person,
    PhoneLine,
    Verdict,
)
from dispatcher.policy import Policy, compile_policy
from dispatcher.policy.presets import effective_policy
from tests.policy.conftest import (
    CHANNELS,
    EMAIL_1,
    LONDON,
    LOS_ANGELES,
    NEW_YORK,
    PHONE_1,
    PHONE_2,
    POSTAL_1,
    SHANGHAI,
    codes,
    decide_at,
    local,
    local_on,
    make_attempt,
    make_case,
    make_person,
    make_reminder,
    wall,
)


def preset_policy(
    fallback_timezone: str = "UTC",
    after_cease: Sequence[tuple[str, str]] = (),
    **policy_toml: Any,
) -> Policy:
    """A compiled policy from ``policy.toml`` keys exactly as an admin would write them."""
    return compile_policy(
        PolicyFile.model_validate(policy_toml),
        CHANNELS,
        fallback_timezone=fallback_timezone,
        after_cease=after_cease,
    )


REG_F = preset_policy(preset="us-reg-f")
CN = preset_policy(preset="cn")
VOICE = make_reminder(channel="voice", template="call_script")
SMS = make_reminder(channel="sms")


def calls(*instants: datetime, outcome: Outcome = Outcome.PLACED, **kw: Any) -> tuple[Attempt, ...]:
    return tuple(make_attempt(at, channel="voice", outcome=outcome, **kw) for at in instants)


def rules(decision: Decision) -> list[str | None]:
    return [reason.rule for reason in decision.reasons]


# -- merging: presets are data under the admin's overrides -----------------------------------


def test_a_preset_alone_gives_its_rules_with_their_origin() -> None:
    effective = effective_policy(PolicyFile.model_validate({"preset": "us-reg-f"}))
    assert [w.origin for w in effective.windows] == ["preset us-reg-f: windows.inconvenient-time"]
    assert [(r.max, r.per, r.scope) for r in effective.limits] == [(7, timedelta(days=7), "case")]
    assert effective.cooldown is not None and effective.cooldown.calendar


def test_every_number_is_overridable_by_name_and_the_origin_says_so() -> None:
    source = PolicyFile.model_validate(
        {"preset": "us-reg-f", "limits": [{"name": "call-frequency", "max": 5, "per": "7d"}]}
    )
    [limit] = effective_policy(source).limits
    assert limit.max == 5 and limit.scope == "case" and limit.channels == ("voice",)
    assert limit.origin == (
        "policy.toml: limits.call-frequency over preset us-reg-f: limits.call-frequency"
    )


def test_a_named_rule_can_be_dropped_and_unnamed_rules_are_added() -> None:
    source = PolicyFile.model_validate(
        {
            "preset": "cn",
            "daily_caps": [
                {"name": "unanswered-per-number", "max": 6, "enabled": False},
                {"channels": ["sms"], "max": 2, "scope": "person"},
            ],
        }
    )
    caps = effective_policy(source).daily_caps
    assert [c.name for c in caps] == ["conversations-per-day", None]
    assert caps[1].origin == "policy.toml: daily_caps[1]"


def test_scalars_and_tables_of_policy_toml_win_over_the_preset() -> None:
    source = PolicyFile.model_validate(
        {"preset": "us-reg-f", "window_exempt": [], "cooldown": {"per": "10d"}}
    )
    effective = effective_policy(source)
    assert effective.window_exempt == ()
    assert effective.cooldown is not None
    assert effective.cooldown.per == timedelta(days=10) and effective.cooldown.calendar


def test_overlays_apply_in_order_after_the_preset() -> None:
    effective = effective_policy(
        PolicyFile.model_validate({"preset": "us-reg-f", "overlays": ["us-ma"]})
    )
    assert [r.origin for r in effective.limits] == [
        "preset us-reg-f: limits.call-frequency",
        "overlay us-ma: limits.ma-calls-texts-other-numbers",
        "overlay us-ma: limits.ma-calls-texts",
        "overlay us-ma: limits.ma-visits",
    ]


# -- us-reg-f: inconvenient time (§1006.6(b)(1)(i)) ------------------------------------------

DST_DAYS = [
    (NEW_YORK, date(2026, 3, 8)),  # spring forward
    (NEW_YORK, date(2026, 3, 9)),
    (NEW_YORK, date(2026, 11, 1)),  # fall back
    (NEW_YORK, date(2026, 11, 2)),
    (LONDON, date(2026, 3, 29)),
    (LONDON, date(2026, 3, 30)),
    (LONDON, date(2026, 10, 25)),
    (LONDON, date(2026, 10, 26)),
]


@pytest.mark.parametrize(("zone", "day"), DST_DAYS)
@pytest.mark.parametrize("channel", ["sms", "voice", "email"])
def test_reg_f_sends_only_from_8_to_21_local_across_dst(zone: str, day: date, channel: str) -> None:
    person = make_person(timezone=zone)
    reminder = make_reminder(channel=channel)
    for clock, verdict in [
        (time(7, 59), Verdict.DEFER),
        (time(8, 0), Verdict.SEND),
        (time(20, 59), Verdict.SEND),
        (time(21, 0), Verdict.DEFER),
        (time(23, 30), Verdict.DEFER),
    ]:
        decision = decide_at(REG_F, local_on(zone, day, clock), reminder=reminder, person=person)
        assert decision.verdict is verdict, (clock, decision)
        if verdict is Verdict.DEFER:
            assert decision.until is not None
            assert time(8) <= wall(decision.until, zone).time() < time(8, 20)
            assert decision.reasons[0].rule == "preset us-reg-f: windows.inconvenient-time"


def test_reg_f_letters_are_posted_at_any_hour() -> None:
    letter = make_reminder(channel="letter", template="formal_letter")
    assert decide_at(REG_F, local(NEW_YORK, 2026, 6, 10, 3), reminder=letter).verdict is (
        Verdict.SEND
    )


# -- us-reg-f: unknown or ambiguous time zone ------------------------------------------------

NY_NUMBER = ContactPoint(11, ContactKind.PHONE, "+12125550147")
CA_ADDRESS = ContactPoint(12, ContactKind.POSTAL, "10 Example Street\nLos Angeles, CA 90012")


def ny_number_living_in_california() -> Person:
    return make_person(timezone=None, contacts=(NY_NUMBER, CA_ADDRESS))


@pytest.mark.parametrize(
    ("ny_clock", "verdict"),
    [
        (time(8, 30), Verdict.DEFER),  # 05:30 in Los Angeles
        (time(10, 59), Verdict.DEFER),  # 07:59 in Los Angeles
        (time(11, 0), Verdict.SEND),  # 08:00 in Los Angeles
        (time(17, 59), Verdict.SEND),  # 14:59 in Los Angeles
        (time(20, 59), Verdict.SEND),  # 17:59 in Los Angeles
        (time(21, 0), Verdict.DEFER),  # closed in New York
    ],
)
def test_a_new_york_number_living_in_california_gets_the_strictest_window(
    ny_clock: time, verdict: Verdict
) -> None:
    now = local_on(NEW_YORK, date(2026, 6, 10), ny_clock)
    decision = decide_at(REG_F, now, person=ny_number_living_in_california())
    assert decision.verdict is verdict
    assert decision.zones == (LOS_ANGELES, NEW_YORK)
    assert decision.zone_source == "phone+address"
    assert "tz_fallback" not in decision.flags


def test_deferral_with_two_zones_lands_where_both_are_open() -> None:
    now = local(NEW_YORK, 2026, 6, 10, 8, 30)
    decision = decide_at(REG_F, now, person=ny_number_living_in_california())
    assert decision.verdict is Verdict.DEFER and decision.until is not None
    # 08:00 in Los Angeles (11:00 in New York), jittered into the first 20 minutes.
    opening = local(LOS_ANGELES, 2026, 6, 10, 8)
    assert opening <= decision.until < opening + timedelta(minutes=20)


def test_a_person_without_time_zone_data_gets_the_fallback_zone_flagged() -> None:
    policy = preset_policy(fallback_timezone=NEW_YORK, preset="us-reg-f")
    unknown = ContactPoint(13, ContactKind.PHONE, "+15550000001")  # no zone data
    person = make_person(timezone=None, contacts=(unknown, POSTAL_1))
    decision = decide_at(policy, local(NEW_YORK, 2026, 6, 10, 22), person=person)
    assert decision.verdict is Verdict.DEFER
    assert decision.flags == ("tz_fallback",)
    assert decision.zones == (NEW_YORK,) and decision.zone_source == "fallback"


def test_an_explicit_time_zone_wins_over_phone_and_address() -> None:
    person = make_person(timezone=LONDON, contacts=(NY_NUMBER, CA_ADDRESS))
    decision = decide_at(REG_F, local(LONDON, 2026, 6, 10, 9), person=person)
    assert decision.verdict is Verdict.SEND
    assert decision.zones == (LONDON,) and decision.zone_source == "person"


# -- us-reg-f: call frequency (§1006.14(b)(2)(i)) --------------------------------------------

MONDAY = date(2026, 6, 8)


def test_seven_call_attempts_in_seven_days_defers_the_eighth() -> None:
    history = calls(*(local(NEW_YORK, 2026, 6, 8 + d, 10) for d in range(7)))
    now = local(NEW_YORK, 2026, 6, 14, 15)
    decision = decide_at(REG_F, now, reminder=VOICE, history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == history[0].at + timedelta(days=7)
    assert codes(decision) == ["rate_limit"]
    assert rules(decision) == ["preset us-reg-f: limits.call-frequency"]


def test_call_frequency_counts_every_number_of_the_case() -> None:
    history = calls(*(local(NEW_YORK, 2026, 6, 8 + d, 10) for d in range(4))) + calls(
        *(local(NEW_YORK, 2026, 6, 8 + d, 12) for d in range(3)), contact=PHONE_2.value
    )
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 12, 15), reminder=VOICE, history=history)
    assert decision.verdict is Verdict.DEFER and codes(decision) == ["rate_limit"]


def test_call_frequency_is_per_debt() -> None:
    history = calls(*(local(NEW_YORK, 2026, 6, 8 + d, 10) for d in range(7)), case_id="C2")
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 14, 15), reminder=VOICE, history=history)
    assert decision.verdict is Verdict.SEND


# -- us-reg-f: what counts as a call attempt (§1006.14(b)(3)) --------------------------------


@pytest.mark.parametrize(
    "outcome",
    [Outcome.PLACED, Outcome.FAILED_TRANSIENT, Outcome.UNKNOWN, Outcome.RESERVED],
)
def test_unanswered_busy_voicemail_and_in_flight_calls_are_attempts(outcome: Outcome) -> None:
    history = calls(*(local(NEW_YORK, 2026, 6, 8 + d, 10) for d in range(7)), outcome=outcome)
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 14, 15), reminder=VOICE, history=history)
    assert decision.verdict is Verdict.DEFER


def test_a_request_refused_before_placing_is_not_an_attempt() -> None:
    refused = calls(
        *(local(NEW_YORK, 2026, 6, 8 + d, 10) for d in range(7)),
        outcome=Outcome.FAILED_TRANSIENT,
        counted=False,
    )
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 14, 15), reminder=VOICE, history=refused)
    assert decision.verdict is Verdict.SEND


# -- us-reg-f: after a telephone conversation (§1006.14(b)(2)(ii)) ---------------------------


def test_a_conversation_on_day_1_blocks_calls_until_day_8() -> None:
    talk = calls(local(NEW_YORK, 2026, 6, 8, 18), outcome=Outcome.CONVERSATION)
    # Day 7 (Sunday 14th), in the window: still blocked.
    day_7 = decide_at(REG_F, local(NEW_YORK, 2026, 6, 14, 20), reminder=VOICE, history=talk)
    assert day_7.verdict is Verdict.DEFER
    assert codes(day_7)[0] == "cooldown"
    assert rules(day_7)[0] == "preset us-reg-f: cooldown"
    # Day 8 opens at local midnight; the window then opens at 08:00.
    assert day_7.until is not None
    assert wall(day_7.until, NEW_YORK).date() == date(2026, 6, 15)
    assert time(8) <= wall(day_7.until, NEW_YORK).time() < time(8, 20)
    # Day 8 at 09:00, earlier than 7 × 24 h after the 18:00 conversation: allowed.
    day_8 = decide_at(REG_F, local(NEW_YORK, 2026, 6, 15, 9), reminder=VOICE, history=talk)
    assert day_8.verdict is Verdict.SEND


def test_the_cooldown_is_per_debt_and_only_for_calls() -> None:
    talk = calls(local(NEW_YORK, 2026, 6, 8, 18), outcome=Outcome.CONVERSATION)
    now = local(NEW_YORK, 2026, 6, 10, 12)
    assert decide_at(REG_F, now, reminder=SMS, history=talk).verdict is Verdict.SEND
    other = make_reminder(channel="voice", case_id="C2")
    assert (
        decide_at(REG_F, now, reminder=other, case=make_case(id="C2"), history=talk).verdict
        is Verdict.SEND
    )


# -- us-reg-f: opt-out, cease, dispute (the core rules under the preset) ---------------------


def test_reg_f_honours_an_electronic_opt_out_on_that_number() -> None:
    person = make_person(opt_outs=(OptOut("sms", PHONE_1.value), OptOut("sms", PHONE_2.value)))
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 10, 12), person=person)
    assert decision.verdict is Verdict.SUPPRESS and codes(decision) == ["opt_out"]


def test_reg_f_ceased_case_sends_only_a_template_allowed_after_cease() -> None:
    policy = preset_policy(after_cease=[("letter", "final_notice")], preset="us-reg-f")
    ceased = make_case(state=CaseState.CEASED)
    now = local(NEW_YORK, 2026, 6, 10, 12)
    assert decide_at(policy, now, case=ceased).verdict is Verdict.SUPPRESS
    final = make_reminder(channel="letter", template="final_notice")
    assert decide_at(policy, now, reminder=final, case=ceased).verdict is Verdict.SEND


def test_reg_f_disputed_case_pauses() -> None:
    disputed = make_case(state=CaseState.DISPUTED)
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 10, 12), case=disputed)
    assert decision.verdict is Verdict.DEFER and codes(decision)[0] == "case_disputed"


# -- overlay us-ma: 2 calls and texts per 7 days per debt ------------------------------------

MA = preset_policy(preset="us-reg-f", overlays=["us-ma"])


def test_us_ma_overlay_allows_two_calls_and_texts_per_seven_days() -> None:
    # To a mobile number (tests/policy/test_phone_lines.py: the other lines, and unknown).
    mobile = make_person(contacts=(replace(PHONE_1, line=PhoneLine.MOBILE),))
    history = (
        make_attempt(local(NEW_YORK, 2026, 6, 8, 10), channel="sms"),
        make_attempt(local(NEW_YORK, 2026, 6, 9, 10), channel="voice"),
    )
    now = local(NEW_YORK, 2026, 6, 10, 12)
    decision = decide_at(MA, now, history=history, person=mobile)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == history[0].at + timedelta(days=7)
    assert rules(decision) == ["overlay us-ma: limits.ma-calls-texts"]
    # Without the overlay the federal rule alone allows it.
    assert decide_at(REG_F, now, history=history, person=mobile).verdict is Verdict.SEND


# -- cn: no collection at night -------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "verdict"),
    [
        (time(7, 59), Verdict.DEFER),
        (time(8, 0), Verdict.SEND),
        (time(21, 59), Verdict.SEND),
        (time(22, 0), Verdict.DEFER),
        (time(2, 0), Verdict.DEFER),
    ],
)
@pytest.mark.parametrize("channel", ["sms", "voice", "email"])
def test_cn_no_contact_from_22_to_8(clock: time, verdict: Verdict, channel: str) -> None:
    person = make_person(timezone=SHANGHAI)
    now = local_on(SHANGHAI, date(2026, 6, 10), clock)
    decision = decide_at(CN, now, reminder=make_reminder(channel=channel), person=person)
    assert decision.verdict is verdict
    if verdict is Verdict.DEFER:
        assert decision.reasons[0].rule == "preset cn: windows.no-night-contact"


def test_cn_person_with_a_chinese_number_and_no_zone_is_judged_in_shanghai() -> None:
    mobile = ContactPoint(21, ContactKind.PHONE, "+8613800138000")
    person = make_person(timezone=None, contacts=(mobile,))
    decision = decide_at(CN, local(SHANGHAI, 2026, 6, 10, 22, 30), person=person)
    assert decision.verdict is Verdict.DEFER
    assert decision.zones == (SHANGHAI,) and decision.flags == ()


# -- cn: connected voice conversations, 3 per debtor per day --------------------------------

SH_PERSON = make_person(timezone=SHANGHAI)


def test_cn_three_conversations_in_a_day_defer_the_next_call_to_tomorrow() -> None:
    talks = calls(
        *(local(SHANGHAI, 2026, 6, 10, h) for h in (9, 11, 14)), outcome=Outcome.CONVERSATION
    )
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 16), reminder=VOICE, person=SH_PERSON, history=talks
    )
    assert decision.verdict is Verdict.DEFER
    assert codes(decision)[0] == "daily_cap"
    assert rules(decision)[0] == "preset cn: daily_caps.conversations-per-day"
    assert decision.until is not None
    until = wall(decision.until, SHANGHAI)
    assert until.date() == date(2026, 6, 11) and time(8) <= until.time() < time(8, 20)


def test_cn_conversations_count_across_every_case_of_the_person() -> None:
    talks = calls(
        *(local(SHANGHAI, 2026, 6, 10, h) for h in (9, 11, 14)),
        outcome=Outcome.CONVERSATION,
        case_id="C9",
    )
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 16), reminder=VOICE, person=SH_PERSON, history=talks
    )
    assert decision.verdict is Verdict.DEFER


def test_cn_two_conversations_leave_room_for_a_third() -> None:
    talks = calls(*(local(SHANGHAI, 2026, 6, 10, h) for h in (9, 11)), outcome=Outcome.CONVERSATION)
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 16), reminder=VOICE, person=SH_PERSON, history=talks
    )
    assert decision.verdict is Verdict.SEND


def test_cn_daily_caps_reset_at_local_midnight_not_utc_midnight() -> None:
    # A debtor in New York: 21:00–21:40 there is 01:00–01:40 UTC on the next UTC day, the
    # same UTC day as 08:30 the next New York morning, but a different local day.
    person = make_person(timezone=NEW_YORK)
    talks = calls(
        *(local(NEW_YORK, 2026, 6, 10, 21, m) for m in (0, 20, 40)), outcome=Outcome.CONVERSATION
    )
    next_morning = local(NEW_YORK, 2026, 6, 11, 8, 30)
    assert next_morning.astimezone(UTC).date() == talks[0].at.astimezone(UTC).date()
    decision = decide_at(CN, next_morning, reminder=VOICE, person=person, history=talks)
    assert decision.verdict is Verdict.SEND
    late = decide_at(
        CN, local(NEW_YORK, 2026, 6, 10, 21, 50), reminder=VOICE, person=person, history=talks
    )
    assert late.verdict is Verdict.DEFER and codes(late)[0] == "daily_cap"
    assert late.until is not None
    assert wall(late.until, NEW_YORK).date() == date(2026, 6, 11)


# -- cn: unanswered call attempts, 6 per number per day -------------------------------------


def test_cn_six_unanswered_attempts_to_a_number_defer_the_seventh() -> None:
    tries = calls(*(local(SHANGHAI, 2026, 6, 10, 9, 10 * m) for m in range(6)))
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 15), reminder=VOICE, person=SH_PERSON, history=tries
    )
    assert decision.verdict is Verdict.DEFER
    assert codes(decision) == ["daily_cap", "quiet_hours"]
    assert rules(decision)[0] == "preset cn: daily_caps.unanswered-per-number"


def test_cn_unanswered_attempts_count_per_number() -> None:
    tries = calls(
        *(local(SHANGHAI, 2026, 6, 10, 9, 10 * m) for m in range(6)), contact=PHONE_2.value
    )
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 15), reminder=VOICE, person=SH_PERSON, history=tries
    )
    assert decision.verdict is Verdict.SEND and decision.contact == PHONE_1


def test_cn_a_conversation_is_not_an_unanswered_attempt() -> None:
    tries = calls(*(local(SHANGHAI, 2026, 6, 10, 9, 10 * m) for m in range(5))) + calls(
        local(SHANGHAI, 2026, 6, 10, 10), outcome=Outcome.CONVERSATION
    )
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 15), reminder=VOICE, person=SH_PERSON, history=tries
    )
    assert decision.verdict is Verdict.SEND


def test_cn_refused_requests_are_not_unanswered_attempts() -> None:
    tries = calls(
        *(local(SHANGHAI, 2026, 6, 10, 9, 10 * m) for m in range(6)),
        outcome=Outcome.FAILED_TRANSIENT,
        counted=False,
    )
    decision = decide_at(
        CN, local(SHANGHAI, 2026, 6, 10, 15), reminder=VOICE, person=SH_PERSON, history=tries
    )
    assert decision.verdict is Verdict.SEND


# -- holidays --------------------------------------------------------------------------------

CN_HOLIDAYS = preset_policy(preset="cn", holidays=[{"calendar": "CN", "channels": ["*"]}])


def test_chinese_national_day_is_a_closed_day() -> None:
    now = local(SHANGHAI, 2026, 10, 1, 10)
    decision = decide_at(CN_HOLIDAYS, now, person=SH_PERSON)
    assert decision.verdict is Verdict.DEFER
    assert codes(decision)[0] == "holiday"
    assert "National Day" in decision.reasons[0].text
    assert decision.until is not None
    # 1–3 Oct are holidays, the 4th is not in the calendar, then 5–7 Oct again.
    assert wall(decision.until, SHANGHAI).date() == date(2026, 10, 4)
    assert decide_at(CN, now, person=SH_PERSON).verdict is Verdict.SEND


def test_spring_festival_run_defers_past_every_holiday() -> None:
    decision = decide_at(CN_HOLIDAYS, local(SHANGHAI, 2026, 2, 16, 10), person=SH_PERSON)
    assert decision.verdict is Verdict.DEFER and decision.until is not None
    assert wall(decision.until, SHANGHAI).date() == date(2026, 2, 21)


def test_a_window_across_midnight_stops_at_a_holiday() -> None:
    policy = preset_policy(
        windows=[{"channels": ["*"], "from": "20:00", "to": "02:00"}],
        holidays=[{"calendar": "CN"}],
    )
    decision = decide_at(policy, local(SHANGHAI, 2026, 10, 1, 0, 30), person=SH_PERSON)
    assert decision.verdict is Verdict.DEFER


def test_holidays_bind_only_people_in_the_calendars_zones() -> None:
    now = local(NEW_YORK, 2026, 10, 1, 10)
    assert decide_at(CN_HOLIDAYS, now).verdict is Verdict.SEND


def test_holidays_bind_only_the_channels_named() -> None:
    policy = preset_policy(preset="cn", holidays=[{"calendar": "CN", "channels": ["voice"]}])
    now = local(SHANGHAI, 2026, 10, 1, 10)
    assert decide_at(policy, now, person=SH_PERSON).verdict is Verdict.SEND
    assert decide_at(policy, now, reminder=VOICE, person=SH_PERSON).verdict is Verdict.DEFER


def test_us_state_holidays_with_a_subdivision() -> None:
    policy = preset_policy(preset="us-reg-f", holidays=[{"calendar": "US", "subdivision": "NY"}])
    # Lincoln's Birthday is a New York State holiday, not a federal one.
    now = local(NEW_YORK, 2026, 2, 12, 10)
    decision = decide_at(policy, now)
    assert decision.verdict is Verdict.DEFER and codes(decision) == ["holiday"]
    federal = preset_policy(preset="us-reg-f", holidays=[{"calendar": "US"}])
    assert decide_at(federal, now).verdict is Verdict.SEND


def test_letters_are_exempt_from_hours_but_not_from_holidays_they_name() -> None:
    policy = preset_policy(preset="cn", holidays=[{"calendar": "CN", "channels": ["letter"]}])
    letter = make_reminder(channel="letter", template="formal_letter")
    at_night = local(SHANGHAI, 2026, 6, 10, 23)
    assert decide_at(policy, at_night, reminder=letter, person=SH_PERSON).verdict is Verdict.SEND
    holiday = local(SHANGHAI, 2026, 10, 1, 23)
    assert decide_at(policy, holiday, reminder=letter, person=SH_PERSON).verdict is Verdict.DEFER


def test_unknown_calendar_and_subdivision_are_config_errors() -> None:
    with pytest.raises(ValueError, match="not a holiday calendar"):
        PolicyFile.model_validate({"holidays": [{"calendar": "XX"}]})
    with pytest.raises(ValueError, match="not a subdivision"):
        PolicyFile.model_validate({"holidays": [{"calendar": "US", "subdivision": "ZZ"}]})


def test_email_is_unaffected_by_call_rules() -> None:
    email = make_reminder(channel="email", template="overdue_email")
    talk = calls(local(NEW_YORK, 2026, 6, 8, 18), outcome=Outcome.CONVERSATION)
    decision = decide_at(REG_F, local(NEW_YORK, 2026, 6, 9, 12), reminder=email, history=talk)
    assert decision.verdict is Verdict.SEND and decision.contact == EMAIL_1
