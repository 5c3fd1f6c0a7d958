"""A planning pass over the store, a page per store transaction: first the cases of any
schedule whose steps changed since the cases were planned are marked to be looked at again
and what is planned on it moved or cancelled (``review``), then every case whose next step
falls within ``plan_ahead`` is planned. A case whose next step is further away, or that has
nothing left to plan, is not read at all."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from dispatcher.config import SchedulesFile
from dispatcher.config.schedules_file import Step
from dispatcher.model import CaseState
from dispatcher.planner.review import planned_reviews
from dispatcher.planner.steps import plan_case_ahead
from dispatcher.store.api import CasePlan, PlanCursor, PlanningCase, Store

# Cases (and at most about as many new reminders) per planning page: each page is one write
# transaction, measured on a busy 2-core machine at ~50 ms on SQLite and ~160 ms on
# PostgreSQL whatever the store's size, so claims interleave and no store call nears 250 ms.
PAGE = 200
# Cases per page when marking a changed schedule's cases (a cheap UPDATE by key range).
LOOK_AGAIN_PAGE = 5000
_FINISHED = (CaseState.PAID, CaseState.CLOSED)
# Part of every fingerprint: a store planned by an older rule (steps keyed by position, the
# zone without the person's phones and addresses) has its planned reminders looked at again.
PLANNING_RULES = "step-ids;primary-zone"

log = logging.getLogger("dispatcher.planner")


def run_planner(store: Store, schedules: SchedulesFile, fallback_zone: str, now: datetime) -> int:
    """Plan every case that needs it; return how many reminders were created."""
    return sum(planning_pass(store, schedules, fallback_zone, now))


def planning_pass(
    store: Store, schedules: SchedulesFile, fallback_zone: str, now: datetime
) -> Iterator[int]:
    """A planning pass as a series of store transactions: each ``next`` runs one page and
    yields how many reminders it created, so a caller can run each on the store thread as
    its own call and let other work in between."""
    fingerprints = schedule_fingerprints(schedules, fallback_zone)
    stored = store.planned_schedules()
    if stored != fingerprints:
        # No record yet: every case is as imported or upgraded, to be planned at once.
        changed = changed_schedules(stored, fingerprints)
        after: str | None = None
        while changed:
            after = store.look_again(changed, after, LOOK_AGAIN_PAGE, now)
            yield 0
            if after is None:
                break
        yield from _replan(store, schedules, changed, fallback_zone, now)
    plan = partial(_plan, schedules=schedules, fallback_zone=fallback_zone, now=now)
    through = now + schedules.plan_ahead
    cursor: PlanCursor | None = None
    while True:
        page = store.plan_cases(through, cursor, PAGE, plan, now)
        yield page.created
        if page.cursor is None:
            break
        cursor = page.cursor
    if stored != fingerprints:
        # Kept once the pass is through: a pass cut short is done again, whole, next time.
        store.keep_planned_schedules(fingerprints)


def changed_schedules(stored: dict[str, Any] | None, fingerprints: dict[str, Any]) -> list[str]:
    """The schedules whose steps changed since the cases were planned with them (none when
    no record was kept yet: every case is then planned at once anyway)."""
    if stored is None:
        return []
    return [n for n, f in fingerprints.items() if stored.get(n) != f]


def _replan(
    store: Store, schedules: SchedulesFile, changed: list[str], fallback_zone: str, now: datetime
) -> Iterator[int]:
    """Move or cancel what is planned on the ``changed`` schedules, a page per store call."""
    moved = cancelled = 0
    for reviews in planned_reviews(store, schedules, changed, fallback_zone):
        if reviews:
            store.replan([r.change for r in reviews], now)
            cancelled += sum(r.orphaned for r in reviews)
            moved += sum(not r.orphaned for r in reviews)
        yield 0
    if changed:
        log.info(
            "schedules changed: planned reminders moved or cancelled",
            extra={"fields": {"schedules": changed, "moved": moved, "cancelled": cancelled}},
        )


def schedule_fingerprints(schedules: SchedulesFile, fallback_zone: str) -> dict[str, Any]:
    """Each schedule's record as the cases are planned with it: a fingerprint that changes
    when anything that decides its steps' instants does (the steps, the repeat, catch-up, the
    zone of people without one, the rules this program plans by), and its steps by id (what
    ``check`` compares a changed file with)."""
    return {
        name: {
            "fingerprint": hashlib.sha256(
                f"{schedule.model_dump_json()}|{fallback_zone}|{PLANNING_RULES}".encode()
            ).hexdigest()[:16],
            "steps": {step.key: step_summary(step) for step in schedule.steps},
        }
        for name, schedule in schedules.schedules.items()
    }


def step_summary(step: Step) -> str:
    """A step as ``check`` shows it: day, time, channel and template."""
    return f"day {step.day} {step.at:%H:%M} {step.channel} {step.template}"


def _plan(
    item: PlanningCase, *, schedules: SchedulesFile, fallback_zone: str, now: datetime
) -> CasePlan:
    if item.case.state in _FINISHED:
        return CasePlan([], item.planned_through, None)
    try:
        return plan_case_ahead(item, schedules, fallback_zone, now)
    except Exception as exc:  # one case's bad data must not stop the planning of every case
        # Its steps cannot be computed (a due date beyond the instants a datetime holds, from
        # a store written before intake bounded it): set aside until an import or event
        # changes it, so it costs nothing and the cases after it are planned.
        log.error(
            "case not planned: its steps cannot be computed",
            extra={"fields": {"case": item.case.id, "error": f"{type(exc).__name__}: {exc}"}},
        )
        return CasePlan([], item.planned_through, None)
