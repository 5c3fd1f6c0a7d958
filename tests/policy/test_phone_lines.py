"""Limits narrowed to phone lines, and the us-ma overlay over them (209 CMR 18.16(1)(d): 2
calls and texts per 7 days per debt to a residence or mobile number, 2 per 30 days to any
other): a limit counts only the attempts made to numbers of its lines and binds only a
reminder to such a number; a number of no known line is bound by both rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from dispatcher.config import PolicyFile
from dispatcher.model import ContactPoint, Decision, Person, PhoneLine, Verdict
from tests.config.test_config import check, problems
from tests.conftest import Deployment
from tests.policy.conftest import (
    EMAIL_1,
    NEW_YORK,
    PHONE_1,
    PHONE_2,
    decide_at,
    local,
    make_attempt,
    make_person,
    make_reminder,
)
from tests.policy.test_presets import preset_policy

MA = preset_policy(preset="us-reg-f", overlays=["us-ma"])
SEVEN_DAYS = "overlay us-ma: limits.ma-calls-texts"
THIRTY_DAYS = "overlay us-ma: limits.ma-calls-texts-other-numbers"
NOW = local(NEW_YORK, 2026, 6, 20, 12)
DAY = timedelta(days=1)


def person_with(*points: ContactPoint) -> Person:
    return make_person(contacts=(*points, EMAIL_1))


def typed(point: ContactPoint, line: PhoneLine | None) -> ContactPoint:
    return replace(point, line=line)


def texts(*days_ago: float, to: ContactPoint = PHONE_1) -> tuple[Any, ...]:
    return tuple(make_attempt(NOW - d * DAY, channel="sms", contact=to.value) for d in days_ago)


def rules(decision: Decision) -> list[str | None]:
    return [reason.rule for reason in decision.reasons]


def test_a_work_number_reached_twice_in_30_days_defers_the_third() -> None:
    work = person_with(typed(PHONE_1, PhoneLine.WORK))
    history = texts(20, 12)  # neither in the last 7 days

    decision = decide_at(MA, NOW, person=work, history=history)

    assert decision.verdict is Verdict.DEFER
    assert decision.until == history[0].at + timedelta(days=30)
    assert rules(decision) == [THIRTY_DAYS]
    assert "2 sms, voice contact(s) to other, unknown, work numbers per 30d" in str(
        decision.reasons[0]
    )
    # One of them gone from the window: the third goes.
    assert decide_at(MA, NOW, person=work, history=history[1:]).verdict is Verdict.SEND


@pytest.mark.parametrize("line", [PhoneLine.MOBILE, PhoneLine.RESIDENCE])
def test_a_mobile_or_residence_number_gets_two_per_seven_days(line: PhoneLine) -> None:
    person = person_with(typed(PHONE_1, line))

    # Two in the last 30 days but not in the last 7: the 30-day rule does not bind it.
    assert decide_at(MA, NOW, person=person, history=texts(20, 12)).verdict is Verdict.SEND

    history = texts(5, 1)
    decision = decide_at(MA, NOW, person=person, history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == history[0].at + timedelta(days=7)
    assert rules(decision) == [SEVEN_DAYS]


def test_a_number_of_no_known_line_is_held_to_both_rules() -> None:
    """Unknown counts as a residence or mobile number (2 per 7 days), and since it may be any
    other number, also under the 30-day rule: never looser than the law for either."""
    unknown = person_with(typed(PHONE_1, None))

    in_the_week = texts(5, 1)
    decision = decide_at(MA, NOW, person=unknown, history=in_the_week)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == in_the_week[0].at + timedelta(days=30)
    assert rules(decision) == [THIRTY_DAYS]  # the rule that sets the later instant

    in_the_month = texts(20, 12)
    decision = decide_at(MA, NOW, person=unknown, history=in_the_month)
    assert decision.verdict is Verdict.DEFER and rules(decision) == [THIRTY_DAYS]

    # Attempts to numbers of no known line count under the 7-day rule as a mobile's do.
    mobile = person_with(typed(PHONE_1, PhoneLine.MOBILE), typed(PHONE_2, None))
    decision = decide_at(MA, NOW, person=mobile, history=texts(5, 1, to=PHONE_2))
    assert decision.verdict is Verdict.DEFER and rules(decision) == [SEVEN_DAYS]


def test_a_limit_counts_only_attempts_to_numbers_of_its_lines() -> None:
    # The reminder goes to the mobile (first by priority); the work number had two this week.
    mobile_first = person_with(typed(PHONE_1, PhoneLine.MOBILE), typed(PHONE_2, PhoneLine.WORK))
    to_work = texts(5, 1, to=PHONE_2)
    assert decide_at(MA, NOW, person=mobile_first, history=to_work).verdict is Verdict.SEND

    # The reminder goes to the work number; the mobile had two this month.
    work_first = person_with(
        typed(replace(PHONE_1, priority=1), PhoneLine.MOBILE),
        typed(replace(PHONE_2, priority=0), PhoneLine.WORK),
    )
    to_mobile = texts(20, 12)
    assert decide_at(MA, NOW, person=work_first, history=to_mobile).verdict is Verdict.SEND
    # ... and its own two this month defer it.
    decision = decide_at(MA, NOW, person=work_first, history=texts(20, 12, to=PHONE_2))
    assert decision.verdict is Verdict.DEFER and rules(decision) == [THIRTY_DAYS]


def test_a_number_no_longer_on_file_counts_as_one_of_no_known_line() -> None:
    gone = replace(PHONE_2, value="+15550000099")
    mobile = person_with(typed(PHONE_1, PhoneLine.MOBILE))
    decision = decide_at(MA, NOW, person=mobile, history=texts(5, 1, to=gone))
    assert decision.verdict is Verdict.DEFER and rules(decision) == [SEVEN_DAYS]
    work = person_with(typed(PHONE_1, PhoneLine.WORK))
    decision = decide_at(MA, NOW, person=work, history=texts(20, 12, to=gone))
    assert decision.verdict is Verdict.DEFER and rules(decision) == [THIRTY_DAYS]


def test_a_limit_narrowed_to_lines_binds_no_email() -> None:
    policy = preset_policy(
        preset="none",
        limits=[{"name": "phones", "channels": ["*"], "max": 1, "per": "7d", "lines": ["work"]}],
    )
    work = person_with(typed(PHONE_1, PhoneLine.WORK))
    email = make_reminder(channel="email")
    to_email = (make_attempt(NOW - DAY, channel="email", contact=EMAIL_1.value),)
    assert decide_at(policy, NOW, person=work, reminder=email, history=to_email).verdict is (
        Verdict.SEND
    )
    # Nor does an email attempt count toward it.
    assert decide_at(policy, NOW, person=work, history=to_email).verdict is Verdict.SEND
    decision = decide_at(policy, NOW, person=work, history=texts(1))
    assert decision.verdict is Verdict.DEFER and rules(decision) == ["policy.toml: limits.phones"]


def test_policy_toml_may_read_no_known_line_as_a_personal_number() -> None:
    """A lender who knows its numbers of no known line are personal ones narrows the 30-day
    rule to work and other numbers, by name."""
    personal = preset_policy(
        preset="us-reg-f",
        overlays=["us-ma"],
        limits=[
            {
                "name": "ma-calls-texts-other-numbers",
                "max": 2,
                "per": "30d",
                "lines": ["work", "other"],
            }
        ],
    )
    unknown = person_with(typed(PHONE_1, None))
    assert decide_at(personal, NOW, person=unknown, history=texts(20, 12)).verdict is (Verdict.SEND)
    decision = decide_at(personal, NOW, person=unknown, history=texts(5, 1))
    assert decision.verdict is Verdict.DEFER and rules(decision) == [SEVEN_DAYS]


def test_the_overlay_rules_cite_their_source() -> None:
    from dispatcher.policy.overlays import SOURCES

    for name in ("limits.ma-calls-texts", "limits.ma-calls-texts-other-numbers"):
        source, caveat = SOURCES["us-ma"][name]
        assert "209 CMR 18.16(1)(d)" in source
        assert "no known line" in caveat and "keeps no number" not in caveat


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["pager"], "unknown line type 'pager' (known: mobile, residence, work, other, unknown)"),
        ([], "lines is empty"),
    ],
)
def test_an_unknown_line_is_refused(lines: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PolicyFile.model_validate(
            {"preset": "none", "limits": [{"max": 1, "per": "7d", "lines": lines}]}
        )


def test_check_names_the_file_line_and_bad_line_type(deployment: Deployment) -> None:
    path: Path = deployment.config / "policy.toml"
    text = path.read_text(encoding="utf-8")
    text += '\n[[limits]]\nname = "bad"\nmax = 1\nper = "7d"\nlines = ["mobile", "pager"]\n'
    path.write_text(text, encoding="utf-8")
    result = check(deployment.config)
    assert result.exit_code == 1, result.output
    found = problems(result)
    assert len(found) == 1, result.output
    file, number, key, message = found[0]
    assert file == "policy.toml" and key.startswith("limits")
    assert "unknown line type 'pager'" in message
    assert number == text.split("\n").index('lines = ["mobile", "pager"]') + 1


def test_without_a_limit_narrowed_to_lines_the_rules_are_per_channel() -> None:
    """With no limit narrowed to lines the compiled policy keeps its rules per channel as
    before: the line of the number is never looked at."""
    plain = preset_policy(preset="us-reg-f")
    assert not plain.by_line and MA.by_line
    assert plain.rules_for("sms") is plain.rules_for("sms", "work")
    assert [limit.rule for limit in MA.rules_for("sms", "work").limits] == [THIRTY_DAYS]
    assert [limit.rule for limit in MA.rules_for("sms", "unknown").limits] == [
        THIRTY_DAYS,
        SEVEN_DAYS,
    ]
    assert MA.rules_for("email", None).limits == ()
