"""Arrangements → reminders, and the arrangements a missed instalment breaks.

``make_arrangement`` is the one way an arrangement is made (the API, the CLI and import
call it): the case must allow one and the terms keep within policy.toml's bounds; each
instalment's reminders are the arrangement schedule's steps (``[arrangements] schedule`` in
schedules.toml), their days relative to the instalment's due date, at their ``at`` time in
the person's zone. They go under every rule like any contact (their schedule is
``arrangement``: the case's ``plan`` state holds only its ladder). ``break_arrangements``
runs with each planning pass: an instalment still unpaid ``grace`` after the end of its due
day breaks the arrangement and the case's ladder resumes (or moves to ``on_broken``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.config import Config, Schedule
from dispatcher.config.schedules_file import ARRANGEMENT_SCHEDULE
from dispatcher.model import Arrangement, Case, Instalment
from dispatcher.planner.steps import local_instant
from dispatcher.policy.arrangements import Proposed, plan_problems, refusal
from dispatcher.policy.zones import local_zone
from dispatcher.store.api import NewReminder, Store, UnknownCase
from dispatcher.store.arrangements_api import ArrangementRefused, BrokenArrangement

log = logging.getLogger("dispatcher.planner")

KINDS = ("promise", "plan")


class ArrangementInvalid(ValueError):
    """The terms given break a bound or make no sense: each (field, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = list(problems)


def instalment_reminders(
    case: Case,
    arrangement_id: int,
    instalments: Sequence[Instalment],
    schedule: Schedule | None,
    zone: str,
    now: datetime,
) -> list[NewReminder]:
    """The reminders of each instalment: one per step of ``schedule`` still ahead of
    ``now``, keyed ``<arrangement>/<instalment>/<step>``."""
    if schedule is None:
        return []
    out = []
    for instalment in instalments:
        for step in schedule.steps:
            due_at = local_instant(instalment.due + timedelta(days=step.day), step.at, zone)
            if due_at < now:
                continue
            out.append(
                NewReminder(
                    case_id=case.id,
                    person_id=case.person_id,
                    schedule=ARRANGEMENT_SCHEDULE,
                    step=f"{arrangement_id}/{instalment.number}/{step.key}",
                    channel=step.channel,
                    template=step.template,
                    due_at=due_at,
                )
            )
    return out


def make_arrangement(
    store: Store,
    config: Config,
    case_id: str,
    kind: str,
    proposed: Sequence[Proposed],
    *,
    now: datetime,
    source: str,
) -> Arrangement:
    """Make an arrangement of ``kind`` (``promise``: one instalment; ``plan``) on the case.
    Raises ``UnknownCase``, ``ArrangementRefused`` (the case's state, an active one: a
    conflict) or ``ArrangementInvalid`` (the terms)."""
    if kind not in KINDS:
        raise ArrangementInvalid([("kind", f"{kind!r} is not promise or plan")])
    case = store.get_case(case_id)
    if case is None:
        raise UnknownCase(case_id)
    person = store.get_person(case.person_id)
    zone = local_zone(person, config.dispatcher.fallback_timezone)
    balance = store.balance(case_id)
    reason = refusal(case, balance)
    if reason:
        raise ArrangementRefused(reason)
    if kind == "promise" and len(proposed) != 1:
        raise ArrangementInvalid([("instalments", "a promise to pay is one amount by one date")])
    today = now.astimezone(ZoneInfo(zone)).date()
    problems = plan_problems(
        proposed, balance, config.policy.arrangements, today, promise=kind == "promise"
    )
    if problems:
        raise ArrangementInvalid(problems)
    instalments = [
        Instalment(
            number,
            p.due,
            p.amount,
            deadline=local_instant(p.due + timedelta(days=1), time(0), zone),
        )
        for number, p in enumerate(proposed, start=1)
    ]
    names = config.schedules.arrangements
    schedule = config.schedules.schedules.get(names.schedule) if names.schedule else None
    return store.add_arrangement(
        case_id,
        kind,
        instalments,
        lambda aid: instalment_reminders(case, aid, instalments, schedule, zone, now),
        refusal,
        now=now,
        source=source,
    )


def break_arrangements(store: Store, config: Config, now: datetime) -> list[BrokenArrangement]:
    """Break the arrangements with an instalment unpaid past ``grace``; each logged."""
    grace = config.policy.arrangements.grace
    broken = store.break_overdue_arrangements(
        now - grace, now, config.schedules.arrangements.on_broken
    )
    for item in broken:
        log.info(
            "arrangement broken",
            extra={"fields": {"case": item.case_id, "arrangement": item.arrangement_id}},
        )
    return broken
