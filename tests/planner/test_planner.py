"""Schedules become reminders at local times, repeat, catch up, and never twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatcher.config import SchedulesFile
from dispatcher.model import Case, CaseState, ReminderState
from dispatcher.planner import plan_case, run_planner, schedule_steps
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, PersonIn, PlanningCase

LADDER = {
    "plan_ahead": "1d",
    "schedules": {
        "standard": {
            "steps": [
                {"day": 1, "channel": "sms", "template": "a", "at": "10:00"},
                {"day": 3, "channel": "voice", "template": "b", "at": "11:00"},
                {"day": 7, "channel": "email", "template": "c", "at": "09:30"},
            ],
            "repeat": {"every": "7d", "until_day": 21},
        },
        "all": {
            "catch_up": "all",
            "steps": [
                {"id": "first", "day": 1, "channel": "sms", "template": "a", "at": "10:00"},
                {"id": "second", "day": 2, "channel": "sms", "template": "a", "at": "10:00"},
            ],
        },
    },
}


def _case(due: date, schedule: str = "standard") -> Case:
    return Case("C1", "P1", "10", "USD", due, CaseState.OPEN, schedule)


def test_steps_are_at_local_time_in_the_persons_zone() -> None:
    schedules = SchedulesFile.model_validate(LADDER)
    steps = list(
        schedule_steps(schedules.schedules["standard"], date(2026, 3, 5), "America/New_York")
    )
    ny = ZoneInfo("America/New_York")
    # Day 3 (2026-03-08) is the US spring-forward day: 11:00 is EDT, UTC-4.
    assert [s.due_at.astimezone(ny).time() for s in steps[:3]] == [time(10), time(11), time(9, 30)]
    assert steps[1].due_at == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    assert steps[0].due_at == datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # EST, UTC-5
    # The last step repeats every 7 days until day 21: days 14 and 21.
    assert [s.key for s in steps] == ["sms/a", "voice/b", "email/c", "email/c+1", "email/c+2"]
    assert [(s.due_at.astimezone(ny).date() - date(2026, 3, 5)).days for s in steps] == [
        1,
        3,
        7,
        14,
        21,
    ]


def test_catch_up_latest_supersedes_older_past_steps() -> None:
    schedules = SchedulesFile.model_validate(LADDER)
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    reminders, through = plan_case(
        PlanningCase(_case(date(2026, 3, 5)), "UTC", None), schedules, "UTC", now
    )
    assert through == now + timedelta(days=1)
    states = {r.step: r.state for r in reminders}
    assert states == {
        "sms/a": ReminderState.SUPPRESSED,
        "voice/b": ReminderState.SUPPRESSED,
        "email/c": ReminderState.PENDING,
    }
    assert all("superseded" in (r.last_reason or "") for r in reminders if r.step != "email/c")


def test_catch_up_all_keeps_every_past_step() -> None:
    schedules = SchedulesFile.model_validate(LADDER)
    now = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    reminders, _ = plan_case(
        PlanningCase(_case(date(2026, 3, 5), "all"), "UTC", None), schedules, "UTC", now
    )
    assert {r.state for r in reminders} == {ReminderState.PENDING}
    assert len(reminders) == 2


def test_plan_ahead_horizon_and_resume_from_planned_through() -> None:
    schedules = SchedulesFile.model_validate(LADDER)
    now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    first, through = plan_case(
        PlanningCase(_case(date(2026, 3, 5)), "UTC", None), schedules, "UTC", now
    )
    assert [r.step for r in first] == ["sms/a"]  # day 1 is within a day, day 3 is not
    later = now + timedelta(days=3)
    second, _ = plan_case(
        PlanningCase(_case(date(2026, 3, 5)), "UTC", through), schedules, "UTC", later
    )
    assert [r.step for r in second] == ["voice/b"]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    s.upsert(
        [
            PersonIn(id=f"P{i}", name="N", locale="en", timezone=z, phones=("+12125550123",))
            for i, z in enumerate(["Asia/Shanghai", "America/Los_Angeles", None])
        ],
        [
            CaseIn(
                id=f"C{i}",
                person_id=f"P{i}",
                amount="1",
                currency="USD",
                due_date=date(2026, 11, 1),
                schedule="standard",
            )
            for i in range(3)
        ]
        + [
            CaseIn(
                id="C-paid",
                person_id="P0",
                amount="1",
                currency="USD",
                due_date=date(2026, 11, 1),
                schedule="standard",
                state="paid",
            )
        ],
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    yield s
    s.close()


def test_running_the_planner_twice_creates_nothing_new(store) -> None:  # type: ignore[no-untyped-def]
    schedules = SchedulesFile.model_validate(LADDER)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    created = run_planner(store, schedules, "Europe/London", now)
    assert created > 0
    assert run_planner(store, schedules, "Europe/London", now) == 0
    # Even with the planned-through marks wiped, the unique keys hold.
    from sqlalchemy import update

    from dispatcher.store import schema

    with store.engine.begin() as conn:
        conn.execute(update(schema.cases).values(planned_through=None))
    assert run_planner(store, schedules, "Europe/London", now) == 0
    history = store.case_history("C-paid")
    assert history.reminders == [], "paid cases are not planned"
    # The person without a zone is planned in the zone the policy infers (a New York
    # number), not in the fallback zone.
    inferred = store.case_history("C2").reminders
    new_york = ZoneInfo("America/New_York")
    assert inferred[0].original_due_at.astimezone(new_york).time() == time(10)
