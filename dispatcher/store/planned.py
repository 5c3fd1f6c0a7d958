"""What the planner is handed and gives: a case to plan and its plan; after a change of
schedule, the reminders already planned that it may move or cancel, and what becomes of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from dispatcher.model import Case

if TYPE_CHECKING:  # api.py re-exports these types and defines NewReminder
    from dispatcher.store.api import NewReminder


@dataclass(frozen=True)
class PlanningCase:
    """What the planner needs of a case: the case, its person's zone and, when the person
    has none, the phone numbers and postal addresses the zone is inferred from."""

    case: Case
    timezone: str | None
    planned_through: datetime | None
    phones: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class CasePlan:
    """What planning one case gives: its new reminders, how far it is now planned, and the
    due instant of its next step not yet planned (None: nothing left to plan)."""

    reminders: list[NewReminder]
    planned_through: datetime | None
    next_step_at: datetime | None


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder planned and not yet tried (a change of its schedule may move or cancel
    it), with what the planner needs to compute its step's instant again."""

    id: int
    case_id: str
    schedule: str
    step: str
    channel: str
    template: str
    planned_at: datetime  # the instant it was planned for (before any deferral)
    due_date: date
    timezone: str | None
    phones: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Replan:
    """What becomes of a planned reminder after its schedule changed: moved to ``due_at``
    with ``channel`` and ``template``, or, when ``due_at`` is None, cancelled (its step is
    gone) with ``reason``."""

    reminder_id: int
    due_at: datetime | None
    channel: str
    template: str
    reason: str = ""


__all__ = ["CasePlan", "PlannedReminder", "PlanningCase", "Replan"]
