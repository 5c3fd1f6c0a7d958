"""Planning again, on a real SQLite file and on PostgreSQL: a case looked at again (a changed
schedule, a re-import with a new due date or schedule, a new time zone) gets the steps that
now fall inside the window it was already planned through; a case whose steps cannot be
computed is set aside without stopping the others."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from dispatcher.config import SchedulesFile
from dispatcher.planner import run_planner
from dispatcher.store import schema
from dispatcher.store.api import CaseIn, PersonIn

DUE = date(2026, 11, 1)
STANDARD = [
    {"day": 1, "channel": "sms", "template": "a", "at": "10:00"},
    {"day": 7, "channel": "email", "template": "c", "at": "09:30"},
]


def _schedules(**ladders: list[dict[str, Any]]) -> SchedulesFile:
    return SchedulesFile.model_validate(
        {"plan_ahead": "2d", "schedules": {name: {"steps": s} for name, s in ladders.items()}}
    )


def _at(day: int, clock: time) -> datetime:
    return datetime.combine(DUE + timedelta(days=day), clock, tzinfo=UTC)


def _import(  # type: ignore[no-untyped-def]
    store, case_id: str, due: date, schedule: str, zone: str = "UTC", now: datetime | None = None
) -> None:
    store.upsert(
        [PersonIn(id="P1", name="N", locale="en", timezone=zone, phones=("+447911123456",))],
        [CaseIn(case_id, "P1", "1", "GBP", due, schedule)],
        now or _at(-5, time(0)),
    )


def _reminders(store, case_id: str) -> dict[tuple[str, str], tuple[str, str, datetime]]:  # type: ignore[no-untyped-def]
    return {
        (r.schedule, r.step): (r.channel, r.state.value, r.due_at)
        for r in store.case_history(case_id).reminders
    }


def _hourly(store, schedules: SchedulesFile, start: datetime, hours: int) -> None:  # type: ignore[no-untyped-def]
    for hour in range(hours):
        run_planner(store, schedules, "UTC", start + timedelta(hours=hour))


def test_a_reload_adding_a_step_inside_the_planned_window_plans_it(store) -> None:  # type: ignore[no-untyped-def]
    _import(store, "C1", DUE, "standard")
    day_3 = _at(3, time(12))
    run_planner(store, _schedules(standard=STANDARD), "UTC", day_3)  # through day 5 noon
    voice = {"day": 4, "channel": "voice", "template": "b", "at": "11:00"}
    wider = _schedules(standard=[STANDARD[0], voice, STANDARD[1]])

    assert run_planner(store, wider, "UTC", day_3 + timedelta(minutes=30)) == 1
    _hourly(store, wider, day_3 + timedelta(hours=1), 24 * 5)

    reminders = _reminders(store, "C1")
    assert reminders[("standard", "voice/b")] == ("voice", "pending", _at(4, time(11)))
    # Day 1 was already past when the case was first planned late: as catch-up left it.
    assert set(reminders) == {
        ("standard", "sms/a"),
        ("standard", "voice/b"),
        ("standard", "email/c"),
    }


def test_a_reimport_onto_another_schedule_plans_its_steps_inside_the_window(store) -> None:  # type: ignore[no-untyped-def]
    schedules = _schedules(
        gentle=[STANDARD[0], {"day": 30, "channel": "email", "template": "c", "at": "09:30"}],
        strict=[
            {"day": 3, "channel": "sms", "template": "a", "at": "10:00"},
            {"day": 11, "channel": "voice", "template": "b", "at": "15:00"},
        ],
    )
    _import(store, "C1", DUE, "gentle")
    day_10 = _at(10, time(12))
    run_planner(store, schedules, "UTC", day_10)  # through day 12 noon
    _import(store, "C1", DUE, "strict", now=day_10)  # escalated: a call tomorrow at 15:00

    _hourly(store, schedules, day_10 + timedelta(minutes=5), 24 * 3)

    reminders = _reminders(store, "C1")
    assert reminders[("strict", "voice/b")] == ("voice", "pending", _at(11, time(15)))
    # The new ladder's step already past when the case moved is not sent as a catch-up.
    assert ("strict", "sms/a") not in reminders


def test_a_due_date_moved_earlier_plans_the_step_it_brings_into_the_window(store) -> None:  # type: ignore[no-untyped-def]
    schedules = _schedules(standard=STANDARD)
    _import(store, "C1", DUE, "standard")
    day_3 = _at(3, time(12))
    run_planner(store, schedules, "UTC", day_3)  # day 1 planned; through day 5 noon
    assert set(_reminders(store, "C1")) == {("standard", "sms/a")}
    _import(store, "C1", DUE - timedelta(days=3), "standard", now=day_3)  # its day 7 is now day 4

    _hourly(store, schedules, day_3 + timedelta(minutes=5), 24 * 2)

    assert _reminders(store, "C1")[("standard", "email/c")] == (
        "email",
        "pending",
        _at(4, time(9, 30)),
    )


def test_a_new_time_zone_moving_a_step_earlier_into_the_window_plans_it(store) -> None:  # type: ignore[no-untyped-def]
    schedules = _schedules(standard=[{"day": 4, "channel": "sms", "template": "a", "at": "20:00"}])
    _import(store, "C1", DUE, "standard", zone="UTC")
    day_3 = _at(3, time(10))
    run_planner(store, schedules, "UTC", day_3)  # through day 5 10:00; the step is day 4 20:00
    run_planner(store, schedules, "UTC", day_3 + timedelta(days=1))  # through day 6 10:00
    _import(store, "C2", DUE + timedelta(days=1), "standard", now=day_3)
    run_planner(store, schedules, "UTC", day_3)  # C2's step is day 5 20:00: not yet planned
    assert set(_reminders(store, "C2")) == set()
    # The person moves to Sydney (UTC+11): C2's step is now day 5 09:00 UTC, inside the
    # window C2 was planned through.
    moved = day_3 + timedelta(minutes=10)
    _import(store, "C2", DUE + timedelta(days=1), "standard", "Australia/Sydney", moved)

    _hourly(store, schedules, moved + timedelta(minutes=5), 24 * 3)

    assert _reminders(store, "C2")[("standard", "sms/a")] == ("sms", "pending", _at(5, time(9)))


def test_a_case_whose_steps_cannot_be_computed_is_set_aside_and_the_rest_planned(
    store,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    schedules = _schedules(standard=STANDARD)
    for case_id in ("C0", "C1", "C2"):
        _import(store, case_id, DUE, "standard")
    # A store written before intake bounded due dates.
    with store.engine.begin() as conn:
        conn.execute(
            update(schema.cases)
            .where(schema.cases.c.id == "C1")
            .values(due_date=date(9999, 12, 25))
        )
    day_1 = _at(1, time(9))

    with caplog.at_level(logging.ERROR, logger="dispatcher.planner"):
        assert run_planner(store, schedules, "UTC", day_1) == 2

    assert set(_reminders(store, "C0")) == set(_reminders(store, "C2")) == {("standard", "sms/a")}
    assert _reminders(store, "C1") == {}
    (record,) = [r for r in caplog.records if r.name == "dispatcher.planner"]
    assert record.fields["case"] == "C1"  # type: ignore[attr-defined]
    assert "OverflowError" in record.fields["error"]  # type: ignore[attr-defined]
    # Set aside: the next passes do not read it again, and planning goes on.
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="dispatcher.planner"):
        assert run_planner(store, schedules, "UTC", _at(6, time(10))) == 2
    assert not caplog.records
    # A re-import with a corrected due date plans it (its past day 1 as a late case's).
    _import(store, "C1", DUE, "standard")
    assert run_planner(store, schedules, "UTC", _at(6, time(10))) == 2
    assert set(_reminders(store, "C1")) == {("standard", "sms/a"), ("standard", "email/c")}
