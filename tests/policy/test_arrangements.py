"""What an arrangement may be: the cases that allow one, the bounds of policy.toml, and the
case gate letting an arrangement's own reminders through while it holds the ladder."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from dispatcher.config.policy_file import ArrangementBounds
from dispatcher.model import CaseState, Reminder, Verdict
from dispatcher.policy.arrangements import (
    Proposed,
    money_problem,
    parse_money,
    plan_problems,
    refusal,
)
from tests.policy.conftest import DAYTIME, DUE, NEW_YORK, decide_at, local, make_case, policy

TODAY = date(2026, 6, 10)
BOUNDS = ArrangementBounds(
    min_instalment=Decimal("10"), min_share=Decimal("0.1"), max_instalments=3
)
D = Decimal


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        (CaseState.OPEN, True),
        (CaseState.HARDSHIP, True),
        (CaseState.PLAN, True),
        (CaseState.DISPUTED, False),
        (CaseState.CEASED, False),
        (CaseState.PAID, False),
        (CaseState.CLOSED, False),
    ],
)
def test_which_cases_allow_an_arrangement(state: CaseState, allowed: bool) -> None:
    assert (refusal(make_case(state=state), D("100")) is None) is allowed


def test_nothing_owed_allows_none() -> None:
    assert refusal(make_case(), D("0")) == "case C1: nothing is owed (balance 0)"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10.00", None),
        ("0", "0 must be more than 0"),
        ("-3", "-3 must be more than 0"),
        ("1.234", "1.234 has more than 2 decimal places"),
    ],
)
def test_money(text: str, problem: str | None) -> None:
    value = parse_money(text)
    assert value is not None and money_problem(value) == problem


def test_not_a_number_is_no_money() -> None:
    assert parse_money("ten") is None and parse_money("NaN") is None


def _problems(
    *items: tuple[int, str], balance: str = "300", promise: bool = False
) -> dict[str, str]:
    proposed = [Proposed(TODAY + timedelta(days=d), D(a)) for d, a in items]
    return dict(plan_problems(proposed, D(balance), BOUNDS, TODAY, promise=promise))


def test_terms_within_bounds_pass() -> None:
    # The last instalment may be below the smallest (what is left).
    assert _problems((7, "100"), (14, "100"), (21, "5")) == {}


def test_each_bound_names_the_field_and_the_value() -> None:
    found = _problems((0, "20"), (-1, "100"), (400, "100"))
    assert found == {
        "instalments[0].amount": "20 is below the smallest instalment allowed (30.00: "
        "min_instalment 10, min_share 0.1 of the balance 300)",
        "instalments[1].due": "2026-06-09 is before today (2026-06-10)",
        "instalments[2].due": "2027-07-15 is after 2027-06-10: the longest arrangement is 365 days",
    }
    assert _problems((5, "40"), (5, "40")) == {
        "instalments[1].due": "2026-06-15 must be after the instalment before it (2026-06-15)"
    }
    assert _problems((1, "50"), (2, "50"), (3, "50"), (4, "50")) == {
        "instalments": "4 instalments: at most 3 allowed"
    }
    assert _problems((1, "200"), (2, "200")) == {
        "instalments": "the instalments total 400, more than the balance 300"
    }
    assert _problems(balance="300") == {"instalments": "give at least one instalment"}


def test_a_promise_names_amount_and_date() -> None:
    assert _problems((-2, "1.001"), promise=True) == {
        "amount": "1.001 has more than 2 decimal places",
        "date": "2026-06-08 is before today (2026-06-10)",
    }


def _reminder(schedule: str) -> Reminder:
    return Reminder(1, "C1", "P1", schedule, "1/1/due", "sms", "instalment_reminder", DUE, DUE)


def test_an_active_arrangement_holds_the_ladder_and_lets_its_own_reminders_go() -> None:
    compiled = policy(windows=[DAYTIME])
    now = local(NEW_YORK, 2026, 6, 10, 12, 0)
    held = make_case(state=CaseState.PLAN)
    ladder = decide_at(compiled, now, reminder=_reminder("standard"), case=held)
    assert ladder.verdict is Verdict.DEFER
    assert ladder.reasons[0].code == "case_plan"
    assert "an arrangement is active" in ladder.reasons[0].text
    own = decide_at(compiled, now, reminder=_reminder("arrangement"), case=held)
    assert own.verdict is Verdict.SEND
    # Under every other state rule still: a dispute holds them too.
    disputed = make_case(state=CaseState.DISPUTED)
    assert decide_at(compiled, now, reminder=_reminder("arrangement"), case=disputed).verdict is (
        Verdict.DEFER
    )
