"""Incremental planning on a real SQLite file and on PostgreSQL: a pass reads only the cases
whose next step falls within the horizon, a page per transaction; events, re-imports and
changed schedules make it look at a case again; an upgraded store plans every case once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dispatcher.config import SchedulesFile
from dispatcher.planner import planning_pass, run, run_planner
from dispatcher.planner.steps import plan_case_ahead
from dispatcher.store import schema
from dispatcher.store.api import CaseIn, CasePlan, PersonIn, PlanningCase

DUE = date(2026, 11, 1)
LADDER: dict[str, Any] = {
    "plan_ahead": "1d",
    "schedules": {
        "standard": {
            "steps": [
                {"day": 1, "channel": "sms", "template": "a", "at": "10:00"},
                {"day": 7, "channel": "email", "template": "c", "at": "09:30"},
            ]
        },
        "other": {"steps": [{"day": 1, "channel": "sms", "template": "a", "at": "10:00"}]},
    },
}
SCHEDULES = SchedulesFile.model_validate(LADDER)
# Day 1 of a case due on DUE, in UTC: the first step is within a day of it.
DAY_1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _at(day: int, clock: time) -> datetime:
    return datetime.combine(DUE + timedelta(days=day), clock, tzinfo=UTC)


def _cases(store, *cases: tuple[str, date, str], timezone: str = "UTC") -> None:  # type: ignore[no-untyped-def]
    store.upsert(
        [PersonIn(id="P1", name="N", locale="en", timezone=timezone, phones=("+447911123456",))],
        [
            CaseIn(
                id=case_id,
                person_id="P1",
                amount="1",
                currency="GBP",
                due_date=due,
                schedule=name,
            )
            for case_id, due, name in cases
        ],
        DAY_1 - timedelta(days=5),
    )


def _next_plan_at(store, case_id: str) -> datetime | None:  # type: ignore[no-untyped-def]
    c = schema.cases.c
    with store.engine.connect() as conn:
        return conn.execute(select(c.next_plan_at).where(c.id == case_id)).scalar_one()


def _steps(store, case_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(r.step for r in store.case_history(case_id).reminders)


def _read_by_a_tick(store, now: datetime, schedules: SchedulesFile = SCHEDULES) -> list[str]:  # type: ignore[no-untyped-def]
    """The cases a tick at ``now`` reads (and plans), in the order it reads them."""
    read: list[str] = []

    def plan(item: PlanningCase) -> CasePlan:
        read.append(item.case.id)
        return plan_case_ahead(item, schedules, "UTC", now)

    page = store.plan_cases(now + schedules.plan_ahead, None, 100, plan, now)
    assert page.cursor is None
    return read


def test_a_case_whose_next_step_is_months_away_is_not_read_by_a_tick(store) -> None:  # type: ignore[no-untyped-def]
    later = DUE + timedelta(days=120)
    _cases(store, ("C-now", DUE, "standard"), ("C-later", later, "standard"))
    assert run_planner(store, SCHEDULES, "UTC", DAY_1) == 1  # C-now's day 1
    assert _next_plan_at(store, "C-now") == _at(7, time(9, 30))
    assert _next_plan_at(store, "C-later") == datetime.combine(
        later + timedelta(days=1), time(10), tzinfo=UTC
    )
    # The next ticks, until C-now's day 7 comes within the horizon, read nothing at all.
    assert _read_by_a_tick(store, DAY_1 + timedelta(minutes=5)) == []
    assert _read_by_a_tick(store, DAY_1 + timedelta(days=4)) == []
    day_6 = _at(6, time(10))
    assert _read_by_a_tick(store, day_6) == ["C-now"]
    assert _steps(store, "C-now") == ["email/c", "sms/a"]
    # Its ladder is finished: nothing is left to plan, and no tick reads it again.
    assert _next_plan_at(store, "C-now") is None
    assert _read_by_a_tick(store, day_6 + timedelta(days=60)) == []
    assert run_planner(store, SCHEDULES, "UTC", day_6 + timedelta(days=60)) == 0


def test_events_and_re_imports_move_a_cases_next_planning_instant(store) -> None:  # type: ignore[no-untyped-def]
    _cases(store, ("C1", DUE, "standard"))
    run_planner(store, SCHEDULES, "UTC", DAY_1)
    day_7 = _at(7, time(9, 30))
    assert _next_plan_at(store, "C1") == day_7
    now = DAY_1 + timedelta(hours=1)
    # A payment plan: the next pass looks at the case again (and finds the same next step).
    store.case_event("C1", "plan", now=now, until=now + timedelta(days=30))
    assert _next_plan_at(store, "C1") == schema.PLAN_AT_ONCE
    assert _read_by_a_tick(store, now) == ["C1"]
    assert _next_plan_at(store, "C1") == day_7
    # Re-imported unchanged: left alone. With a new due date: planned again, steps moved.
    _cases(store, ("C1", DUE, "standard"))
    assert _next_plan_at(store, "C1") == day_7
    _cases(store, ("C1", DUE + timedelta(days=2), "standard"))
    assert _next_plan_at(store, "C1") == schema.PLAN_AT_ONCE
    assert _read_by_a_tick(store, now) == ["C1"]
    assert _next_plan_at(store, "C1") == _at(3, time(10)), "its day 1 is now two days later"
    # The person moves to another time zone: the steps' instants move with them.
    _cases(store, ("C1", DUE + timedelta(days=2), "standard"), timezone="Asia/Shanghai")
    assert _next_plan_at(store, "C1") == schema.PLAN_AT_ONCE
    assert _read_by_a_tick(store, now) == ["C1"]
    assert _next_plan_at(store, "C1") == _at(3, time(2)), "10:00 in Shanghai"
    # Paid: nothing is left to plan, and no tick reads it, however far ahead.
    store.case_event("C1", "paid", now=now)
    assert _next_plan_at(store, "C1") is None
    assert _read_by_a_tick(store, now + timedelta(days=30)) == []
    # Reopened (a disputed payment): it is planned again.
    store.case_event("C1", "dispute", now=now)
    assert _read_by_a_tick(store, now) == ["C1"]


def test_a_reload_adding_a_step_gets_it_planned_for_cases_mid_ladder(store) -> None:  # type: ignore[no-untyped-def]
    _cases(store, ("C1", DUE, "standard"), ("C2", DUE, "other"))
    run_planner(store, SCHEDULES, "UTC", DAY_1)
    assert _steps(store, "C1") == ["sms/a"]
    # A step on day 4 is added: C1's next step (day 7) is no longer its next.
    wider = LADDER | {"schedules": dict(LADDER["schedules"])}
    wider["schedules"]["standard"] = {
        "steps": [
            {"day": 1, "channel": "sms", "template": "a", "at": "10:00"},
            {"day": 4, "channel": "voice", "template": "b", "at": "11:00"},
            {"day": 7, "channel": "email", "template": "c", "at": "09:30"},
        ]
    }
    changed = SchedulesFile.model_validate(wider)
    day_3 = _at(3, time(12))
    assert run_planner(store, changed, "UTC", day_3) == 1
    reminders = {r.step: r for r in store.case_history("C1").reminders}
    assert reminders["voice/b"].channel == "voice"
    assert reminders["voice/b"].due_at == _at(4, time(11))
    assert _next_plan_at(store, "C1") == _at(7, time(9, 30))
    # Only the changed schedule's cases were looked at again; the next pass reads none.
    assert _next_plan_at(store, "C2") is None
    assert _read_by_a_tick(store, day_3, changed) == []


def test_a_pass_commits_each_page_so_other_writes_run_between_pages(
    store,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run, "PAGE", 2)
    _cases(store, *((f"C{i}", DUE, "standard") for i in range(5)))
    pages = planning_pass(store, SCHEDULES, "UTC", DAY_1)
    assert next(pages) == 2, "the first page: two cases, one reminder each"
    # Between pages the pass holds no transaction: an event is written at once, and the
    # case it pays is not planned by the pages that follow.
    paid = [i for i in range(5) if not _steps(store, f"C{i}")][-1]
    store.case_event(f"C{paid}", "paid", now=DAY_1)
    assert list(pages) == [2, 0]
    assert [len(_steps(store, f"C{i}")) for i in range(5)] == [
        0 if i == paid else 1 for i in range(5)
    ]


def test_an_upgraded_store_plans_every_case_once(store) -> None:  # type: ignore[no-untyped-def]
    _cases(store, ("C1", DUE, "standard"), ("C2", DUE + timedelta(days=90), "standard"))
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_cases_next_plan")
        conn.exec_driver_sql("ALTER TABLE cases DROP COLUMN next_plan_at")
        conn.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == schema.SCHEMA_VERSION
    assert _next_plan_at(store, "C1") == _next_plan_at(store, "C2") == schema.PLAN_AT_ONCE
    assert run_planner(store, SCHEDULES, "UTC", DAY_1) == 1
    assert _next_plan_at(store, "C2") == datetime.combine(
        DUE + timedelta(days=91), time(10), tzinfo=UTC
    )
    assert run_planner(store, SCHEDULES, "UTC", DAY_1) == 0


def test_a_page_stops_at_its_limit_of_new_reminders_too(store) -> None:  # type: ignore[no-untyped-def]
    # Found late, C-late has both steps to plan at once (one superseded); C-new has one.
    _cases(store, ("C-late", DUE - timedelta(days=10), "standard"), ("C-new", DUE, "standard"))
    read: list[str] = []

    def plan(item: PlanningCase) -> CasePlan:
        read.append(item.case.id)
        return plan_case_ahead(item, SCHEDULES, "UTC", DAY_1)

    through = DAY_1 + SCHEDULES.plan_ahead
    first = store.plan_cases(through, None, 2, plan, DAY_1)
    assert (first.created, read) == (2, ["C-late"]), "two reminders: the page is full"
    assert first.cursor is not None
    second = store.plan_cases(through, first.cursor, 2, plan, DAY_1)
    assert (second.created, read, second.cursor) == (1, ["C-late", "C-new"], None)
