"""Reordering steps changes nothing planned; editing a step's template moves its planned,
untried reminder to the new template; a step removed has its planned reminder cancelled and
the steps after it are still planned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dispatcher.config import SchedulesFile
from dispatcher.planner import run_planner
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, PersonIn

DUE = date(2026, 11, 1)
STEPS: list[dict[str, Any]] = [
    {"id": "a", "day": 1, "channel": "sms", "template": "one"},
    {"id": "b", "day": 2, "channel": "sms", "template": "two"},
    {"id": "c", "day": 3, "channel": "email", "template": "three"},
]


def _schedules(steps: list[dict[str, Any]]) -> SchedulesFile:
    return SchedulesFile.model_validate({"plan_ahead": "2d", "schedules": {"s": {"steps": steps}}})


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    s.upsert(
        [PersonIn("P1", "N", "en", "UTC")],
        [CaseIn("C1", "P1", "1", "USD", DUE, "s")],
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    yield s
    s.close()


def _reminders(store) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {r.step: (r.template, r.state.value) for r in store.case_history("C1").reminders}


NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)  # steps a (day 1) and b (day 2) are planned


def test_reordering_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    assert run_planner(store, _schedules(STEPS), "UTC", NOW) == 2
    before = _reminders(store)
    assert run_planner(store, _schedules(STEPS[::-1]), "UTC", NOW + timedelta(minutes=5)) == 0
    assert _reminders(store) == before


def test_an_edited_template_moves_the_planned_reminder(store) -> None:  # type: ignore[no-untyped-def]
    run_planner(store, _schedules(STEPS), "UTC", NOW)
    edited = [STEPS[0], {**STEPS[1], "template": "two_v2"}, STEPS[2]]
    run_planner(store, _schedules(edited), "UTC", NOW + timedelta(minutes=5))
    assert _reminders(store)["b"] == ("two_v2", "pending")


def test_a_removed_step_is_cancelled_and_the_later_ones_still_planned(store) -> None:  # type: ignore[no-untyped-def]
    run_planner(store, _schedules(STEPS), "UTC", NOW)
    later = NOW + timedelta(days=1)
    run_planner(store, _schedules([STEPS[0], STEPS[2]]), "UTC", later)
    reminders = _reminders(store)
    assert reminders["b"] == ("two", "cancelled")
    assert reminders["c"] == ("three", "pending")
    assert set(reminders) == {"a", "b", "c"}
