"""What loading a schedules file would change, read from the store before the reload: for
each schedule whose steps changed since its cases were planned, the steps added, removed and
edited, and the planned reminders the change would cancel (their step is gone) or move (to
the step's new instant, channel or template). ``dispatcher check`` prints it; the planning
pass after the reload does exactly this (``review``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatcher.config import SchedulesFile
from dispatcher.planner.review import Review, planned_reviews
from dispatcher.planner.run import changed_schedules, schedule_fingerprints
from dispatcher.store.api import Store


@dataclass
class ScheduleChange:
    """One changed schedule: its steps' ids added, removed and edited (id → before, after),
    and the planned reminders it would cancel or move."""

    name: str
    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    edited: dict[str, tuple[str, str]] = field(default_factory=dict)
    cancelled: list[Review] = field(default_factory=list)
    moved: list[Review] = field(default_factory=list)


def reload_changes(
    store: Store, schedules: SchedulesFile, fallback_zone: str
) -> list[ScheduleChange] | None:
    """What planning with ``schedules`` would change in ``store`` (None: its cases were never
    planned, so there is nothing to compare with)."""
    stored = store.planned_schedules()
    if stored is None:
        return None
    now = schedule_fingerprints(schedules, fallback_zone)
    names = changed_schedules(stored, now)
    changes = {name: _step_changes(name, stored.get(name), now[name]) for name in names}
    for page in planned_reviews(store, schedules, names, fallback_zone):
        for review in page:
            change = changes[review.reminder.schedule]
            (change.cancelled if review.orphaned else change.moved).append(review)
    return [changes[name] for name in sorted(changes)]


def _step_changes(name: str, before: object, after: dict[str, dict[str, str]]) -> ScheduleChange:
    # A record kept before steps had ids has no steps to compare: only the reminders tell.
    old: dict[str, str] = before.get("steps", {}) if isinstance(before, dict) else {}
    new = after["steps"]
    change = ScheduleChange(name)
    if not old:
        return change
    change.added = {k: v for k, v in new.items() if k not in old}
    change.removed = {k: v for k, v in old.items() if k not in new}
    change.edited = {k: (old[k], v) for k, v in new.items() if k in old and old[k] != v}
    return change
