"""The case gate: paid and closed cancel, plans and hardship pause, disputes hold, cease stops."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from dispatcher.config import PolicyFile
from dispatcher.model import CaseState, OptOut, Verdict
from dispatcher.policy.case_state import case_gate
from tests.policy.conftest import (
    DAYTIME,
    NEW_YORK,
    ONE_DAY,
    SHANGHAI,
    codes,
    decide_at,
    is_open,
    local,
    make_case,
    make_person,
    make_reminder,
    policy,
    wall,
)

NOW = local(NEW_YORK, 2026, 6, 10, 12, 0)  # Wednesday noon, inside 08:00–21:00
HOLD = timedelta(days=1)
COMPILED = policy(windows=[DAYTIME], after_cease=[("letter", "final_notice")])


@pytest.mark.parametrize(
    ("state", "paused_until", "after_cease", "suppress", "not_before", "code"),
    [
        (CaseState.OPEN, None, False, False, None, None),
        (CaseState.PAID, None, False, True, None, "case_paid"),
        (CaseState.CLOSED, None, False, True, None, "case_closed"),
        (CaseState.CEASED, None, False, True, None, "case_ceased"),
        (CaseState.CEASED, None, True, False, None, None),
        (CaseState.PLAN, NOW + 2 * ONE_DAY, False, False, NOW + 2 * ONE_DAY, "case_plan"),
        (CaseState.PLAN, NOW - timedelta(seconds=1), False, False, None, None),
        (CaseState.PLAN, NOW, False, False, None, None),
        (CaseState.PLAN, None, False, False, NOW + HOLD, "case_plan"),  # no end date: held
        (CaseState.HARDSHIP, NOW + ONE_DAY, False, False, NOW + ONE_DAY, "case_hardship"),
        (CaseState.HARDSHIP, NOW - ONE_DAY, False, False, None, None),
        (CaseState.HARDSHIP, None, False, False, NOW + HOLD, "case_hardship"),
        (CaseState.DISPUTED, None, False, False, NOW + HOLD, "case_disputed"),
    ],
)
def test_case_gate(
    state: CaseState,
    paused_until: datetime | None,
    after_cease: bool,
    suppress: bool,
    not_before: datetime | None,
    code: str | None,
) -> None:
    gate = case_gate(
        make_case(state=state, paused_until=paused_until),
        now=NOW,
        after_cease_allowed=after_cease,
        hold_recheck=HOLD,
    )
    assert gate.suppress is suppress
    assert gate.not_before == not_before
    assert (gate.reason.code if gate.reason else None) == code
    if gate.reason is not None:
        assert gate.reason.text


@pytest.mark.parametrize(
    ("state", "code"), [(CaseState.PAID, "case_paid"), (CaseState.CLOSED, "case_closed")]
)
def test_settled_case_cancels(state: CaseState, code: str) -> None:
    decision = decide_at(COMPILED, NOW, case=make_case(state=state))
    assert decision.verdict is Verdict.SUPPRESS
    assert codes(decision) == [code]
    assert decision.cancels


@pytest.mark.parametrize("state", [CaseState.PAID, CaseState.CLOSED])
def test_settled_case_cancels_before_any_other_rule_is_asked(state: CaseState) -> None:
    # Cancelled, not suppressed for an opt-out: the case state decides what becomes of it.
    who = make_person(opt_outs=[OptOut("*")])
    night = local(NEW_YORK, 2026, 6, 10, 23, 0)
    decision = decide_at(COMPILED, night, person=who, case=make_case(state=state))
    assert decision.cancels


def test_ceased_case_suppresses_without_cancelling() -> None:
    decision = decide_at(COMPILED, NOW, case=make_case(state=CaseState.CEASED))
    assert decision.verdict is Verdict.SUPPRESS
    assert codes(decision) == ["case_ceased"]
    assert not decision.cancels


@pytest.mark.parametrize(
    ("channel", "template", "verdict"),
    [
        ("letter", "final_notice", Verdict.SEND),
        ("letter", "first_notice", Verdict.SUPPRESS),
        ("sms", "final_notice", Verdict.SUPPRESS),  # allowed on the letter channel only
    ],
)
def test_ceased_case_allows_only_templates_marked_after_cease(
    channel: str, template: str, verdict: Verdict
) -> None:
    reminder = make_reminder(channel=channel, template=template)
    decision = decide_at(COMPILED, NOW, reminder=reminder, case=make_case(state=CaseState.CEASED))
    assert decision.verdict is verdict


def test_after_cease_notice_still_obeys_windows() -> None:
    compiled = policy(windows=[DAYTIME], after_cease=[("sms", "final_notice")])
    reminder = make_reminder(template="final_notice")
    night = local(NEW_YORK, 2026, 6, 10, 23, 0)
    decision = decide_at(compiled, night, reminder=reminder, case=make_case(state=CaseState.CEASED))
    assert decision.verdict is Verdict.DEFER
    assert codes(decision) == ["quiet_hours"]


@pytest.mark.parametrize("state", [CaseState.PLAN, CaseState.HARDSHIP])
def test_pause_inside_a_window_defers_to_its_end_exactly(state: CaseState) -> None:
    until = local(NEW_YORK, 2026, 6, 12, 15, 30)
    decision = decide_at(COMPILED, NOW, case=make_case(state=state, paused_until=until))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == until
    assert codes(decision) == [f"case_{state.value}"]
    assert not decision.cancels


@pytest.mark.parametrize("state", [CaseState.PLAN, CaseState.HARDSHIP])
@pytest.mark.parametrize(
    ("zone", "paused_local", "opening_day"),
    [
        (NEW_YORK, datetime(2026, 6, 12, 23, 0), date(2026, 6, 13)),
        (NEW_YORK, datetime(2026, 3, 8, 4, 30), date(2026, 3, 8)),  # the spring-forward night
        (SHANGHAI, datetime(2026, 6, 12, 5, 0), date(2026, 6, 12)),
    ],
)
def test_pause_ending_in_quiet_hours_defers_into_the_next_window(
    state: CaseState, zone: str, paused_local: datetime, opening_day: date
) -> None:
    paused_until = local(zone, *paused_local.timetuple()[:5])
    decision = decide_at(
        COMPILED,
        paused_until - 3 * ONE_DAY,
        person=make_person(timezone=zone),
        case=make_case(state=state, paused_until=paused_until),
    )
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    assert decision.until > paused_until
    assert is_open(COMPILED, "sms", zone, decision.until)
    local_until = wall(decision.until, zone)
    assert local_until.date() == opening_day
    assert time(8) <= local_until.time() < time(8, 20)
    assert {f"case_{state.value}", "quiet_hours"} <= set(codes(decision))


@pytest.mark.parametrize("state", [CaseState.PLAN, CaseState.HARDSHIP])
@pytest.mark.parametrize("paused_until", [NOW - ONE_DAY, NOW - timedelta(seconds=1), NOW])
def test_pause_that_has_ended_lets_the_reminder_go(
    state: CaseState, paused_until: datetime | None
) -> None:
    decision = decide_at(COMPILED, NOW, case=make_case(state=state, paused_until=paused_until))
    assert decision.verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (CaseState.DISPUTED, "case_disputed"),
        # A pause given without an end date is held like a dispute, until an event ends it.
        (CaseState.PLAN, "case_plan"),
        (CaseState.HARDSHIP, "case_hardship"),
    ],
)
@pytest.mark.parametrize("hold", ["1d", "6h", "90m"])
def test_open_ended_hold_is_looked_at_again_later(state: CaseState, code: str, hold: str) -> None:
    compiled = policy(windows=[DAYTIME], hold_recheck=hold)
    decision = decide_at(compiled, NOW, case=make_case(state=state))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == NOW + compiled.hold_recheck
    assert codes(decision) == [code]
    assert not decision.cancels


def test_disputed_recheck_landing_in_quiet_hours_waits_for_the_window() -> None:
    compiled = policy(windows=[DAYTIME], hold_recheck="10h")  # noon + 10h = 22:00
    decision = decide_at(compiled, NOW, case=make_case(state=CaseState.DISPUTED))
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    opening = local(NEW_YORK, 2026, 6, 11, 8, 0)
    assert opening <= decision.until < opening + timedelta(minutes=20)
    assert {"case_disputed", "quiet_hours"} <= set(codes(decision))


@pytest.mark.parametrize("state", [CaseState.DISPUTED, CaseState.PLAN, CaseState.HARDSHIP])
def test_open_ended_hold_never_sends_even_with_a_zero_recheck(state: CaseState) -> None:
    # Reg F §1006.38: no collection on a disputed debt until it is resolved, whatever the
    # recheck interval. policy.toml refuses a recheck under 1m; the engine holds even when
    # handed zero. A pause with no end date is held the same way.
    compiled = dataclasses.replace(policy(), hold_recheck=timedelta(0))
    decision = decide_at(compiled, NOW, case=make_case(state=state))
    assert decision.verdict is not Verdict.SEND
    assert decision.until is not None and decision.until >= NOW + timedelta(minutes=1)


def test_policy_file_refuses_a_zero_recheck() -> None:
    with pytest.raises(ValidationError, match="hold_recheck must be at least 1m"):
        PolicyFile.model_validate({"hold_recheck": "0s"})
