"""Schedules → reminders for one case: pure functions of the case, its schedule and ``now``.

A step ``{id, day, channel, template, at}`` is due at ``at`` local time on ``due_date + day``
in the person's primary time zone (``policy.zones``: the zone the policy judges in, or the
first of its candidates). Reminders are planned ``plan_ahead`` into the future; the unique key
(case, schedule, step) makes a second run create nothing new. ``catch_up = "latest"``: when
several steps of a case are already past at planning time (a case imported late, a daemon that
was down), only the latest is sent; the earlier ones are recorded as ``suppressed`` with the
reason ``superseded`` rather than sent in a burst.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.config import Schedule, SchedulesFile
from dispatcher.model import ReminderState
from dispatcher.policy.zones import zones_of
from dispatcher.store.api import CasePlan, NewReminder, PlanningCase


@dataclass(frozen=True)
class PlannedStep:
    key: str
    channel: str
    template: str
    due_at: datetime
    day: int


def local_instant(day: date, clock: time, zone: str) -> datetime:
    """``clock`` on ``day`` in ``zone`` as a UTC instant (a time in a DST gap moves later)."""
    tz = ZoneInfo(zone)
    if clock == time.max:
        clock = time(23, 59)
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def schedule_steps(schedule: Schedule, due: date, zone: str) -> Iterator[PlannedStep]:
    """Every step of ``schedule`` for a case due on ``due``, repeats included, keyed by step
    id (a repeat by ``<id>+<n>``)."""
    for step in schedule.steps:
        yield PlannedStep(
            key=step.key,
            channel=step.channel,
            template=step.template,
            due_at=local_instant(due + timedelta(days=step.day), step.at, zone),
            day=step.day,
        )
    repeat, base = schedule.repeat, schedule.repeated
    if repeat is None or base is None:
        return
    every_days = repeat.every.total_seconds() / 86400
    for n in range(1, repeat.times + 1):
        offset = timedelta(seconds=repeat.every.total_seconds() * n)
        day = base.day + n * every_days
        if repeat.until_day is not None and day > repeat.until_day:
            break
        first = datetime.combine(due + timedelta(days=base.day), base.at)
        local = first + offset
        yield PlannedStep(
            key=f"{base.key}+{n}",
            channel=base.channel,
            template=base.template,
            due_at=local_instant(local.date(), local.time(), zone),
            day=int(day),
        )


def plan_case(
    item: PlanningCase, schedules: SchedulesFile, fallback_zone: str, now: datetime
) -> tuple[list[NewReminder], datetime]:
    """The reminders to add for one case and how far it is then planned."""
    planned = plan_case_ahead(item, schedules, fallback_zone, now)
    assert planned.planned_through is not None
    return planned.reminders, planned.planned_through


def plan_case_ahead(
    item: PlanningCase, schedules: SchedulesFile, fallback_zone: str, now: datetime
) -> CasePlan:
    """``plan_case``, with the due instant of the case's next step after the horizon (None
    when its ladder ends before, or its schedule is unknown: nothing left to plan)."""
    case = item.case
    through = now + schedules.plan_ahead
    schedule = schedules.schedules.get(case.schedule)
    if schedule is None:
        return CasePlan([], through, None)
    # The person's own zone is the primary one (zones_of would say the same), read at once:
    # this runs for every case of a planning pass.
    zone = item.timezone or zones_of(None, item.phones, item.addresses, fallback_zone).at_zone
    window_start = item.planned_through
    every = list(schedule_steps(schedule, case.due_date, zone))
    later = [s.due_at for s in every if s.due_at > through]
    steps = [
        s
        for s in every
        if s.due_at <= through and (window_start is None or s.due_at > window_start)
    ]
    past = [s for s in steps if s.due_at <= now]
    superseded = set()
    if schedule.catch_up == "latest" and len(past) > 1:
        latest = max(past, key=lambda s: s.due_at)
        superseded = {s.key for s in past if s is not latest}
        latest_label = f"day {latest.day} {latest.channel}"
    reminders = []
    for step in steps:
        state = ReminderState.PENDING
        reason = None
        if step.key in superseded:
            state = ReminderState.SUPPRESSED
            reason = f"superseded: overtaken by {latest_label} before it was planned"
        reminders.append(
            NewReminder(
                case_id=case.id,
                person_id=case.person_id,
                schedule=case.schedule,
                step=step.key,
                channel=step.channel,
                template=step.template,
                due_at=step.due_at,
                state=state,
                last_reason=reason,
            )
        )
    return CasePlan(reminders, through, min(later, default=None))
