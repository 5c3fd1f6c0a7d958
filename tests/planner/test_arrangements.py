"""Arrangements made, paid, kept and broken over a real store (SQLite, and PostgreSQL when
one answers), with the example config's bounds and instalment schedule and a clock passed
in: promises kept and broken, partial payments, overpayment, a payment after a break, and
cases that allow none."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dispatcher.config import Config, load_config
from dispatcher.model import ArrangementState, CaseState, ReminderState
from dispatcher.planner.arrangements import (
    ArrangementInvalid,
    break_arrangements,
    make_arrangement,
)
from dispatcher.policy.arrangements import Proposed
from dispatcher.store.api import CaseIn, NewReminder, PersonIn, Store
from dispatcher.store.arrangements_api import ArrangementRefused
from tests.conftest import EXAMPLE_CONFIG

# 10:00 UTC is 18:00 in Shanghai: "today" is 2026-03-05 there.
NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE_CONFIG, check_templates=False, secrets=False)


def _case(store: Store, amount: str = "300.00", state: str = "open") -> None:
    store.upsert(
        [PersonIn("P1", "Li Wei", "en", "Asia/Shanghai", ("+8613800138000",), (), ())],
        [CaseIn("C1", "P1", amount, "CNY", date(2026, 3, 1), "standard", state)],
        NOW,
    )


def _make(store: Store, config: Config, *items: tuple[str, str], kind: str = "plan"):  # type: ignore[no-untyped-def]
    proposed = [Proposed(date.fromisoformat(d), D(a)) for d, a in items]
    return make_arrangement(store, config, "C1", kind, proposed, now=NOW, source="test")


def _pay(store: Store, amount: str, ref: str, at: datetime = NOW):  # type: ignore[no-untyped-def]
    return store.record_payment("C1", D(amount), at.date(), ref, now=at, source="test")


def _reminders(store: Store) -> dict[str, ReminderState]:
    return {
        r.step: r.state for r in store.case_history("C1").reminders if r.schedule == "arrangement"
    }


def test_a_kept_promise_ends_kept_and_the_ladder_resumes(store: Store, config: Config) -> None:
    _case(store)
    made = _make(store, config, ("2026-03-12", "100.00"), kind="promise")
    assert made.state is ArrangementState.ACTIVE
    assert store.get_case("C1").state is CaseState.PLAN  # type: ignore[union-attr]
    # 3 days before at 10:00 and on the day at 09:00, Shanghai time, keyed by arrangement.
    assert _reminders(store) == {
        f"{made.id}/1/before": ReminderState.PENDING,
        f"{made.id}/1/due": ReminderState.PENDING,
    }
    result = _pay(store, "100.00", "r1")
    assert (result.balance, result.settled, result.case_paid) == (D("200.00"), (1,), False)
    assert result.arrangement is not None and result.arrangement.state is ArrangementState.KEPT
    assert store.get_case("C1").state is CaseState.OPEN  # type: ignore[union-attr]
    assert set(_reminders(store).values()) == {ReminderState.CANCELLED}


def test_a_broken_promise_breaks_after_the_grace_only(store: Store, config: Config) -> None:
    _case(store)
    _make(store, config, ("2026-03-12", "100.00"), kind="promise")
    # Its day ends at 2026-03-13 00:00 Shanghai (03-12 16:00 UTC); grace 3 days in the example.
    deadline = datetime(2026, 3, 12, 16, 0, tzinfo=UTC) + config.policy.arrangements.grace
    assert break_arrangements(store, config, deadline - timedelta(minutes=1)) == []
    [broken] = break_arrangements(store, config, deadline)
    assert "instalment 1 of 1 (due 2026-03-12, 100.00 CNY) unpaid" in broken.reason
    [arrangement] = store.arrangements_of("C1")
    assert arrangement.state is ArrangementState.BROKEN
    assert store.get_case("C1").state is CaseState.OPEN  # type: ignore[union-attr]
    assert break_arrangements(store, config, deadline + timedelta(days=1)) == []


def test_partial_payments_settle_instalments_in_order(store: Store, config: Config) -> None:
    _case(store)
    made = _make(store, config, ("2026-03-10", "100.00"), ("2026-03-17", "100.00"))
    first = _pay(store, "60.00", "r1")
    assert first.settled == () and first.balance == D("240.00")
    second = _pay(store, "60.00", "r2")  # 40 finishes instalment 1, 20 goes to instalment 2
    assert second.settled == (1,)
    [arrangement] = store.arrangements_of("C1")
    assert [(i.paid, i.settled) for i in arrangement.instalments] == [
        (D("100.00"), True),
        (D("20.00"), False),
    ]
    states = _reminders(store)
    assert states[f"{made.id}/1/due"] is ReminderState.CANCELLED
    assert states[f"{made.id}/2/due"] is ReminderState.PENDING
    # A payment given again (same reference) is the same payment.
    again = _pay(store, "60.00", "r2")
    assert again.duplicate and again.balance == D("180.00")


def test_an_overpayment_keeps_the_plan_and_pays_the_case(store: Store, config: Config) -> None:
    _case(store, amount="150.00")
    _make(store, config, ("2026-03-10", "50.00"), ("2026-03-17", "50.00"))
    result = _pay(store, "180.00", "big")
    assert result.overpaid == D("80.00")
    assert result.balance == D("-30.00") and result.case_paid
    assert result.arrangement is not None and result.arrangement.state is ArrangementState.KEPT
    case = store.get_case("C1")
    assert case is not None and case.state is CaseState.PAID
    details = [e["detail"] for e in store.case_history("C1").events if e["kind"] == "payment"]
    assert "overpaid by 30.00 CNY" in details[0]


def test_a_payment_after_a_break_reduces_the_balance_and_stays_broken(
    store: Store, config: Config
) -> None:
    _case(store)
    _make(store, config, ("2026-03-10", "100.00"), ("2026-03-17", "100.00"))
    break_arrangements(store, config, datetime(2026, 3, 20, tzinfo=UTC))
    later = datetime(2026, 3, 21, tzinfo=UTC)
    result = _pay(store, "100.00", "late", later)
    assert result.balance == D("200.00") and result.arrangement is None
    [arrangement] = store.arrangements_of("C1")
    assert arrangement.state is ArrangementState.BROKEN
    details = [e["detail"] for e in store.case_history("C1").events if e["kind"] == "payment"]
    assert f"after arrangement {arrangement.id} broke (it stays broken)" in details[0]
    # A new arrangement may be made on what is left.
    again = make_arrangement(
        store,
        config,
        "C1",
        "promise",
        [Proposed(date(2026, 3, 25), D("200.00"))],
        now=later,
        source="test",
    )
    assert again.state is ArrangementState.ACTIVE


def test_the_whole_balance_paid_closes_the_case(store: Store, config: Config) -> None:
    _case(store)
    _make(store, config, ("2026-03-10", "100.00"))
    _pay(store, "100.00", "a")
    result = _pay(store, "200.00", "b")
    assert result.case_paid and result.balance == D(0)
    assert store.get_case("C1").state is CaseState.PAID  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ("dispute", "the debt is disputed: no arrangement until the dispute is resolved"),
        ("cease", "the person asked us to cease communication"),
        ("paid", "the case is paid"),
    ],
)
def test_a_case_that_allows_none_is_refused_with_the_reason(
    store: Store, config: Config, event: str, words: str
) -> None:
    _case(store)
    store.case_event("C1", event, now=NOW, source="test")
    with pytest.raises(ArrangementRefused, match=words):
        _make(store, config, ("2026-03-10", "100.00"), kind="promise")
    assert store.arrangements_of("C1") == []


def test_a_second_active_arrangement_is_refused(store: Store, config: Config) -> None:
    _case(store)
    first = _make(store, config, ("2026-03-10", "100.00"), kind="promise")
    with pytest.raises(ArrangementRefused, match=f"arrangement {first.id} is active"):
        _make(store, config, ("2026-03-11", "100.00"), kind="promise")


def test_terms_out_of_bounds_name_the_field_and_value(store: Store, config: Config) -> None:
    _case(store)
    with pytest.raises(ArrangementInvalid) as raised:
        _make(store, config, ("2026-03-04", "1.00"), ("2027-06-01", "100.00"))
    problems = dict(raised.value.problems)
    assert "2026-03-04 is before today (2026-03-05)" in problems["instalments[0].due"]
    assert "1.00 is below the smallest instalment" in problems["instalments[0].amount"]
    assert "2027-06-01 is after 2027-03-05" in problems["instalments[1].due"]
    tight = replace(
        config,
        policy=config.policy.model_copy(
            update={
                "arrangements": config.policy.arrangements.model_copy(update={"max_instalments": 2})
            }
        ),
    )
    with pytest.raises(ArrangementInvalid, match="3 instalments: at most 2"):
        _make(
            store, tight, ("2026-03-10", "50.00"), ("2026-03-11", "50.00"), ("2026-03-12", "50.00")
        )
    with pytest.raises(ArrangementInvalid, match="total 400.00, more than the balance 300.00"):
        _make(store, config, ("2026-03-10", "200.00"), ("2026-03-11", "200.00"))


def test_a_break_resumes_the_ladder_where_it_stood_spaced_as_planned(
    store: Store, config: Config
) -> None:
    _case(store)
    _make(store, config, ("2026-03-10", "100.00"), kind="promise")
    # Two ladder steps held while the plan was active (due on 03-08 and 03-16).
    held = [
        NewReminder("C1", "P1", "standard", step, "sms", "first_notice", at)
        for step, at in (
            ("email", datetime(2026, 3, 8, 1, 30, tzinfo=UTC)),
            ("letter", datetime(2026, 3, 16, 1, 0, tzinfo=UTC)),
        )
    ]
    for reminder in held:
        store.enqueue(reminder, NOW)
    now = datetime(2026, 3, 17, tzinfo=UTC)
    break_arrangements(store, config, now)
    due = {r.step: r.due_at for r in store.case_history("C1").reminders if r.schedule == "standard"}
    assert due["email"] == now
    assert due["letter"] == now + (held[1].due_at - held[0].due_at)


def test_on_broken_moves_the_case_to_that_schedule_from_the_break(
    store: Store, config: Config
) -> None:
    _case(store)
    _make(store, config, ("2026-03-10", "100.00"), kind="promise")
    moved = replace(
        config,
        schedules=config.schedules.model_copy(
            update={
                "arrangements": config.schedules.arrangements.model_copy(
                    update={"on_broken": "gentle"}
                )
            }
        ),
    )
    store.enqueue(NewReminder("C1", "P1", "standard", "email", "sms", "first_notice", NOW), NOW)
    now = datetime(2026, 3, 14, tzinfo=UTC)
    [broken] = break_arrangements(store, moved, now)
    case = store.get_case("C1")
    assert case is not None
    assert (case.schedule, case.due_date, case.state) == ("gentle", now.date(), CaseState.OPEN)
    reasons = store.case_history("C1").reminder_reasons
    held = [r for r in store.case_history("C1").reminders if r.schedule == "standard"]
    assert [(r.state, reasons[r.id]) for r in held] == [
        (ReminderState.CANCELLED, "arrangement_broken")
    ]


def test_a_dispute_resolved_during_an_arrangement_keeps_the_ladder_held(
    store: Store, config: Config
) -> None:
    _case(store)
    _make(store, config, ("2026-03-10", "100.00"), kind="promise")
    store.case_event("C1", "dispute", now=NOW, source="test")
    resolved = store.case_event("C1", "resolve", now=NOW, source="test")
    assert (resolved.state, resolved.paused_until) == (CaseState.PLAN, None)
