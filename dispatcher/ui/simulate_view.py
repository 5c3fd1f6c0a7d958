"""The simulate page's facts: the query it asks (case ids, days) read and checked, the named
cases and their people read from the store, and the report of ``simulate`` over them as the
page shows it — the same figures as ``dispatcher simulate --html``, by case id only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from dispatcher.admin.simulate import SimulationResult, per_jurisdiction, simulate, stored_input
from dispatcher.admin.simulate_report import (
    day_totals,
    hour_counts,
    suppressed_by_reason,
    window_shares,
)
from dispatcher.api.access import CoreAccess
from dispatcher.charts import PALETTE, hour_of_day_bars
from dispatcher.intake import is_id
from dispatcher.model import Case, Person

MAX_CASES = 20
MAX_DAYS = 60
DEFAULT_DAYS = 14


@dataclass(frozen=True)
class Query:
    ids: tuple[str, ...]
    days: int


class BadQuery(ValueError):
    """A field of the form that cannot be run: the text names the field and the value."""


def read_query(ids_text: str, days_text: str) -> Query:
    """The case ids (comma-separated, duplicates dropped) and the days of the form."""
    ids = tuple(dict.fromkeys(part.strip() for part in ids_text.split(",") if part.strip()))
    if len(ids) > MAX_CASES:
        raise BadQuery(f"cases: {len(ids)} case ids, at most {MAX_CASES}")
    text = days_text.strip() or str(DEFAULT_DAYS)
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise BadQuery(f"days: {days_text[:40]!r} is not a whole number from 1 to {MAX_DAYS}")
    return Query(ids, int(text))


@dataclass(frozen=True)
class Chosen:
    cases: list[Case]  # to simulate
    missing: list[str]  # ids not on file
    breathing_space: list[str]  # ids left out: a moratorium runs


async def stored_cases(core: CoreAccess, ids: tuple[str, ...], now: datetime) -> Chosen:
    """The named cases on file, the ids of those that are not, and those left out because a
    breathing space runs on them: simulate copies no case events, so it would contact them
    (SI 2020/1311: no contact while the moratorium runs)."""
    chosen = Chosen([], [], [])
    for case_id in ids:
        case = await core.read(core.store.get_case, case_id) if is_id(case_id) else None
        if case is None:
            chosen.missing.append(case_id)
        elif case.breathing_space is not None and case.breathing_space.runs_at(now):
            chosen.breathing_space.append(case_id)
        else:
            chosen.cases.append(case)
    return chosen


async def run(core: CoreAccess, cases: list[Case], start: datetime, days: int) -> SimulationResult:
    """``simulate`` over ``cases`` and their people with the config in force, on a thread of
    its own (it runs its own event loop over a scratch store)."""
    people: dict[str, Person] = {}
    for case in cases:
        if case.person_id not in people:
            person = await core.read(core.store.get_person, case.person_id)
            if person is not None:
                people[person.id] = person
    given, taken, opt_outs = stored_input(list(people.values()), cases)
    return await asyncio.to_thread(
        simulate, core.runtime, given, taken, start=start, days=days, opt_outs=opt_outs
    )


@dataclass(frozen=True)
class HourChart:
    channel: str
    contacts: int
    chart: Markup


def report(core: CoreAccess, result: SimulationResult) -> dict[str, Any]:
    """The page's figures: totals, an hour-of-day chart per channel with its allowed hours
    shaded (in the daemon's zone, as the command draws them), contacts per local day and
    channel, suppressions by reason, contacts per jurisdiction, and the timeline."""
    runtime = core.runtime
    shares = window_shares(runtime.policy, result, runtime.config.dispatcher.timezone)
    charts = [
        HourChart(
            channel,
            sum(hours),
            hour_of_day_bars(
                hours,
                shares.get(channel),
                f"{channel}: contacts by hour of day",
                PALETTE[index % len(PALETTE)],
            ),
        )
        for index, (channel, hours) in enumerate(hour_counts(result).items())
    ]
    days, channels, counts = day_totals(result)
    return {
        "result": result,
        "closed": sum(1 for c in result.contacts if c.in_closed_window),
        "charts": charts,
        "day_channels": channels,
        "day_rows": [(day, [counts[(day, c)] for c in channels]) for day in days],
        "by_reason": sorted(suppressed_by_reason(result).items()),
        "by_jurisdiction": sorted(per_jurisdiction(result).items()),
        "timeline": sorted(result.contacts, key=lambda c: (c.case_id, c.at)),
    }
