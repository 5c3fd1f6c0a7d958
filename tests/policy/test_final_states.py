"""Bankrupt and deceased: every reminder suppressed (``case_bankrupt``, ``case_deceased``)
but those of a template whose ``allowed_states`` names the state, which still go under every
other rule."""

from __future__ import annotations

import pytest

from dispatcher.model import CaseState, Verdict
from dispatcher.policy.case_state import case_gate
from tests.policy.conftest import (
    DAYTIME,
    NEW_YORK,
    ONE_DAY,
    codes,
    decide_at,
    local,
    make_case,
    make_reminder,
    policy,
)

NOW = local(NEW_YORK, 2026, 6, 10, 12, 0)  # Wednesday noon, inside 08:00–21:00
COMPILED = policy(
    windows=[DAYTIME],
    after_cease=[("letter", "final_notice")],
    allowed_states=[
        ("letter", "estate_letter", "deceased"),
        ("letter", "trustee_letter", "bankrupt"),
    ],
)
FINAL = [(CaseState.BANKRUPT, "case_bankrupt"), (CaseState.DECEASED, "case_deceased")]


@pytest.mark.parametrize(("state", "code"), FINAL)
def test_every_reminder_is_suppressed_without_cancelling(state: CaseState, code: str) -> None:
    decision = decide_at(COMPILED, NOW, case=make_case(state=state))
    assert decision.verdict is Verdict.SUPPRESS
    assert codes(decision) == [code]
    assert not decision.cancels
    [reason] = decision.reasons
    assert reason.rule == "core: case state"
    assert state.value in reason.text and "allowed_states" in reason.text


@pytest.mark.parametrize(
    ("state", "template", "verdict"),
    [
        (CaseState.DECEASED, "estate_letter", Verdict.SEND),
        (CaseState.DECEASED, "trustee_letter", Verdict.SUPPRESS),  # named for bankrupt only
        (CaseState.DECEASED, "final_notice", Verdict.SUPPRESS),  # after cease is not enough
        (CaseState.BANKRUPT, "trustee_letter", Verdict.SEND),
        (CaseState.BANKRUPT, "estate_letter", Verdict.SUPPRESS),
        (CaseState.CEASED, "estate_letter", Verdict.SUPPRESS),  # not a state it names
    ],
)
def test_only_a_template_naming_the_state_goes(
    state: CaseState, template: str, verdict: Verdict
) -> None:
    reminder = make_reminder(channel="letter", template=template)
    decision = decide_at(COMPILED, NOW, reminder=reminder, case=make_case(state=state))
    assert decision.verdict is verdict


def test_a_template_named_for_the_state_goes_on_its_own_channel_only() -> None:
    reminder = make_reminder(channel="sms", template="estate_letter")
    decision = decide_at(COMPILED, NOW, reminder=reminder, case=make_case(state=CaseState.DECEASED))
    assert codes(decision) == ["case_deceased"]


def test_an_allowed_template_still_keeps_the_windows() -> None:
    compiled = policy(windows=[DAYTIME], allowed_states=[("sms", "estate_notice", "deceased")])
    night = local(NEW_YORK, 2026, 6, 10, 23, 0)
    reminder = make_reminder(template="estate_notice")
    case = make_case(state=CaseState.DECEASED)
    decision = decide_at(compiled, night, reminder=reminder, case=case)
    assert decision.verdict is Verdict.DEFER
    assert codes(decision) == ["quiet_hours"]


@pytest.mark.parametrize(("state", "code"), FINAL)
def test_the_gate_suppresses_at_once(state: CaseState, code: str) -> None:
    gate = case_gate(
        make_case(state=state), now=NOW, after_cease_allowed=True, hold_recheck=ONE_DAY
    )
    assert gate.suppress and gate.reason is not None and gate.reason.code == code
    allowed = case_gate(
        make_case(state=state),
        now=NOW,
        after_cease_allowed=False,
        hold_recheck=ONE_DAY,
        allowed_in_state=True,
    )
    assert not allowed.suppress and allowed.reason is None
