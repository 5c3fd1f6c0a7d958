"""What a change of schedule does to the reminders already planned with it, and the one
place that decides it (the planning pass applies it; ``dispatcher check`` lists it first).

A planned reminder is keyed by its step's id. After a change, a reminder planned and not yet
tried whose step is still there is moved to the step's instant, channel and template as they
now are (nothing when they did not change); one whose step is gone is cancelled with the
reason ``step_removed`` — never sent under another step's name, never silently left. A step
a case already had (sent, or tried) is never planned again: its key exists; a new step is
planned from the change on, for the cases that have not passed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dispatcher.config import SchedulesFile
from dispatcher.planner.steps import schedule_steps
from dispatcher.policy.zones import zones_of
from dispatcher.store.api import PlannedReminder, Replan, Store

PAGE = 1000  # planned reminders read per store call


@dataclass(frozen=True)
class Review:
    """One planned reminder a change moves or cancels, as ``check`` shows it."""

    reminder: PlannedReminder
    change: Replan
    zone: str

    @property
    def orphaned(self) -> bool:
        """Its step is gone: cancelled."""
        return self.change.due_at is None


def review(
    reminders: Iterable[PlannedReminder], schedules: SchedulesFile, fallback_zone: str
) -> Iterator[Review]:
    """The planned ``reminders`` that ``schedules`` move or cancel (the others stay)."""
    for reminder in reminders:
        schedule = schedules.schedules.get(reminder.schedule)
        if schedule is None:
            continue  # a schedule that is gone plans nothing more; what it planned stays
        zone = zones_of(
            reminder.timezone, reminder.phones, reminder.addresses, fallback_zone
        ).at_zone
        step = next(
            (
                s
                for s in schedule_steps(schedule, reminder.due_date, zone)
                if s.key == reminder.step
            ),
            None,
        )
        if step is None:
            change = Replan(
                reminder.id,
                None,
                reminder.channel,
                reminder.template,
                f"step_removed: step {reminder.step} is no longer in schedule {reminder.schedule}",
            )
        elif (step.due_at, step.channel, step.template) == (
            reminder.planned_at,
            reminder.channel,
            reminder.template,
        ):
            continue
        else:
            change = Replan(reminder.id, step.due_at, step.channel, step.template)
        yield Review(reminder, change, zone)


def planned_reviews(
    store: Store, schedules: SchedulesFile, names: Iterable[str], fallback_zone: str
) -> Iterator[list[Review]]:
    """Page by page, what ``schedules`` do to the reminders planned on the schedules
    ``names``."""
    names = sorted(names)
    after: int | None = None
    while names:
        page = store.planned_steps(names, after, PAGE)
        if not page:
            return
        yield list(review(page, schedules, fallback_zone))
        after = page[-1].id
