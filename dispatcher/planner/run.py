"""A planning pass over the store: every case that needs planning, a page at a time."""

from __future__ import annotations

from datetime import datetime

from dispatcher.config import SchedulesFile
from dispatcher.planner.steps import plan_case
from dispatcher.store.api import NewReminder, Store

PAGE = 2000


def run_planner(store: Store, schedules: SchedulesFile, fallback_zone: str, now: datetime) -> int:
    """Plan every case that needs it; return how many reminders were created."""
    created = 0
    through = now + schedules.plan_ahead
    seen: set[str] = set()
    while True:
        page = [c for c in store.cases_to_plan(through, PAGE) if c.case.id not in seen]
        if not page:
            return created
        new: list[NewReminder] = []
        marks: list[tuple[str, datetime]] = []
        for item in page:
            seen.add(item.case.id)
            reminders, planned = plan_case(item, schedules, fallback_zone, now)
            new.extend(reminders)
            marks.append((item.case.id, planned))
        created += store.add_reminders(new, marks, now)
