"""The UK Breathing Space moratorium (SI 2020/1311): its end (60 days, or 30 days after a
mental-health crisis treatment ends), the hold it puts on every reminder of the case in every
state, and the ladder resuming where it stood once it ends."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from dispatcher.model import BreathingSpace, CaseState, Verdict
from dispatcher.policy.breathing_space import held_until, moratorium_end
from tests.policy.conftest import (
    DAYTIME,
    LONDON,
    ONE_DAY,
    codes,
    decide_at,
    local,
    make_case,
    make_person,
    make_reminder,
    policy,
)

NOW = local(LONDON, 2026, 6, 10, 12, 0)  # a Wednesday noon, inside 08:00–21:00
START = NOW - 10 * ONE_DAY
COMPILED = policy(
    windows=[DAYTIME],
    after_cease=[("letter", "final_notice")],
    allowed_states=[("letter", "estate_letter", "deceased")],
)
PERSON = make_person(timezone=LONDON)


def _space(until: datetime | None, *, crisis: bool = False) -> BreathingSpace:
    return BreathingSpace(START, until, crisis)


def _held(space: BreathingSpace, *, state: CaseState = CaseState.OPEN, due: datetime = NOW):
    case = dataclasses.replace(make_case(state=state), breathing_space=space)
    reminder = dataclasses.replace(make_reminder(), original_due_at=due, due_at=due)
    return decide_at(COMPILED, NOW, reminder=reminder, person=PERSON, case=case)


def test_a_standard_moratorium_ends_60_days_after_it_starts() -> None:
    assert moratorium_end(NOW, until=None, crisis=False, crisis_ends=None) == NOW + 60 * ONE_DAY


def test_a_standard_moratorium_may_be_given_its_end() -> None:
    end = NOW + 20 * ONE_DAY
    assert moratorium_end(NOW, until=end, crisis=False, crisis_ends=None) == end


def test_a_crisis_moratorium_ends_30_days_after_the_treatment() -> None:
    treatment = NOW + 45 * ONE_DAY
    found = moratorium_end(NOW, until=None, crisis=True, crisis_ends=treatment)
    assert found == treatment + 30 * ONE_DAY


def test_a_crisis_moratorium_has_no_end_until_the_treatment_end_is_known() -> None:
    assert moratorium_end(NOW, until=None, crisis=True, crisis_ends=None) is None


@pytest.mark.parametrize(
    ("until", "crisis", "crisis_ends", "words"),
    [
        (NOW + ONE_DAY, True, None, "give --crisis-ends"),
        (None, False, NOW + ONE_DAY, "mental-health crisis moratorium only"),
        (NOW - ONE_DAY, False, None, "before it starts"),
        (None, True, NOW - 40 * ONE_DAY, "before it starts"),
    ],
)
def test_an_end_that_means_nothing_is_refused(
    until: datetime | None, crisis: bool, crisis_ends: datetime | None, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        moratorium_end(NOW, until=until, crisis=crisis, crisis_ends=crisis_ends)


def test_every_reminder_is_held_until_the_end() -> None:
    end = NOW + 5 * ONE_DAY
    decision = _held(_space(end), due=START - ONE_DAY)  # waiting since before the start
    assert decision.verdict is Verdict.DEFER
    assert decision.until == end
    assert codes(decision) == ["breathing_space"]
    [reason] = decision.reasons
    assert reason.rule == "core: case state"
    assert "breathing space" in reason.text and "2026-06-15" in reason.text


def test_a_held_step_resumes_as_long_after_the_end_as_it_fell_after_the_start() -> None:
    end = NOW + 5 * ONE_DAY
    decision = _held(_space(end), due=START + 3 * ONE_DAY)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == end + 3 * ONE_DAY
    assert "resumes at" in decision.reasons[0].text


def test_held_steps_keep_their_spacing_rather_than_bunching_at_the_end() -> None:
    space = _space(NOW + 5 * ONE_DAY)
    steps = [START + timedelta(days=d) for d in (1, 4, 8)]
    resumed = [held_until(space, due) for due in steps]
    assert [b - a for a, b in zip(resumed, resumed[1:], strict=False)] == [
        b - a for a, b in zip(steps, steps[1:], strict=False)
    ]


def test_a_step_first_due_after_the_end_is_not_moved() -> None:
    end = NOW + 5 * ONE_DAY
    assert held_until(_space(end), end + ONE_DAY) == end  # its own instant is later anyway


def test_once_the_end_has_passed_the_reminder_goes() -> None:
    decision = _held(_space(NOW - ONE_DAY), due=START - ONE_DAY)
    assert decision.verdict is Verdict.SEND


def test_a_crisis_moratorium_without_an_end_holds_and_looks_again() -> None:
    decision = _held(_space(None, crisis=True))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == NOW + ONE_DAY  # hold_recheck
    assert codes(decision) == ["breathing_space"]
    assert "mental-health crisis" in decision.reasons[0].text
    assert "not yet recorded" in decision.reasons[0].text


@pytest.mark.parametrize("state", [CaseState.PLAN, CaseState.HARDSHIP, CaseState.DISPUTED])
def test_it_holds_in_every_state_that_would_let_a_reminder_go_later(state: CaseState) -> None:
    end = NOW + 5 * ONE_DAY
    decision = _held(_space(end), state=state, due=START - ONE_DAY)
    assert decision.verdict is Verdict.DEFER
    assert codes(decision)[0] == "breathing_space"
    assert decision.until is not None and decision.until >= end


def test_it_holds_a_template_allowed_after_cease() -> None:
    case = dataclasses.replace(
        make_case(state=CaseState.CEASED), breathing_space=_space(NOW + ONE_DAY)
    )
    letter = make_reminder(channel="letter", template="final_notice")
    decision = decide_at(COMPILED, NOW, reminder=letter, person=PERSON, case=case)
    assert decision.verdict is Verdict.DEFER
    assert codes(decision) == ["breathing_space"]


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (CaseState.PAID, "case_paid"),
        (CaseState.CEASED, "case_ceased"),
        (CaseState.DECEASED, "case_deceased"),
    ],
)
def test_a_reminder_that_may_never_go_is_suppressed_not_held(state: CaseState, code: str) -> None:
    decision = _held(_space(NOW + ONE_DAY), state=state)
    assert decision.verdict is Verdict.SUPPRESS
    assert codes(decision) == [code]


def test_the_end_of_a_moratorium_in_quiet_hours_waits_for_the_window() -> None:
    end = local(LONDON, 2026, 6, 12, 23, 0)  # after 21:00
    decision = _held(_space(end), due=START - ONE_DAY)
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    assert local(LONDON, 2026, 6, 13, 8, 0) <= decision.until
    assert codes(decision) == ["breathing_space", "quiet_hours"]
