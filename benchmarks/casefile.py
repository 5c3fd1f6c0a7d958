"""A realistic import file for the scale run: open cases for people in the example's regions.

People, names, phone numbers (fiction ranges), emails and postal addresses are made by the
same region generators as ``config/sample_data.py`` (seven regions, two locales, five
currencies; a few people without a time zone, so the fallback applies; 5 % owe on two cases;
some with two numbers, some without an email or an address). Every case is open, and its due
date is chosen so that the first step of its schedule (read from ``schedules.toml``) falls
between ``FIRST_DUE_AFTER`` and ``FIRST_DUE_AFTER`` + 1 day from the file's anchor hour: the
reminders come due over the following day, none during the benchmark itself, and no step is
in the past (a past step would be sent at once under the ``catch_up`` rules).

Files are cached in the temp dir, keyed by size and anchor hour (an older file of the same
size is replaced), and are not world-readable (they hold personal data, if fictional).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from dispatcher.intake import FIELDS

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "config" / "sample_data.py"
CACHE = Path(tempfile.gettempdir()) / "dispatcher-bench-cache"
FIRST_DUE_AFTER = timedelta(hours=2)
NO_ZONE_SHARE = 0.03
TWO_CASES_SHARE = 0.05
SEED = 20261201


def _sample_data() -> ModuleType:
    """``config/sample_data.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("dispatcher_sample_data", SAMPLE_DATA)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SAMPLE_DATA}")
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def first_steps(schedules_toml: Path) -> dict[str, tuple[int, time]]:
    """Each schedule's first step: (day after the due date, local time)."""
    schedules = tomllib.loads(schedules_toml.read_text(encoding="utf-8"))["schedules"]
    out: dict[str, tuple[int, time]] = {}
    for name, schedule in schedules.items():
        step = min(schedule["steps"], key=lambda s: s["day"])
        out[name] = (int(step["day"]), time.fromisoformat(step["at"]))
    return out


def anchor_hour(now: datetime | None = None) -> datetime:
    """The start of the current UTC hour: the instant the due dates are reckoned from."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


class DueDates:
    """The due date giving a case its first step in [anchor + FIRST_DUE_AFTER, + 1 day)."""

    def __init__(self, steps: dict[str, tuple[int, time]], anchor: datetime) -> None:
        self.steps = steps
        self.earliest = anchor + FIRST_DUE_AFTER
        self._memo: dict[tuple[str, str], date] = {}

    def due_date(self, schedule: str, zone: str) -> date:
        key = (schedule, zone)
        found = self._memo.get(key)
        if found is None:
            day, at = self.steps[schedule]
            tz = ZoneInfo(zone)
            candidate = self.earliest.astimezone(tz).date() - timedelta(days=day + 1)
            while datetime.combine(candidate + timedelta(days=day), at, tz) < self.earliest:
                candidate += timedelta(days=1)
            found = self._memo[key] = candidate
        return found

    def first_due_at(self, schedule: str, zone: str) -> datetime:
        day, at = self.steps[schedule]
        due = self.due_date(schedule, zone) + timedelta(days=day)
        return datetime.combine(due, at, ZoneInfo(zone)).astimezone(UTC)


def case_rows(
    start: int, count: int, dues: DueDates, fallback_zone: str, seed: int = SEED
) -> Iterator[dict[str, str]]:
    """``count`` open cases numbered from ``start``, one row each (a person owing on two
    cases appears on two rows)."""
    sample = _sample_data()
    regions = sample.REGIONS
    rng = random.Random(seed + start)
    schedules = sorted(dues.steps)
    number = start
    end = start + count
    while number < end:
        region = regions[number % len(regions)]
        person_id = f"P{number:08d}"
        zone = "" if rng.random() < NO_ZONE_SHARE else region.zone
        phones = [region.phone(rng)] + ([region.phone(rng)] if rng.random() < 0.15 else [])
        person = {
            "person_id": person_id,
            "name": sample._name(rng, region),
            "locale": region.locale,
            "timezone": zone,
            "phone": ";".join(phones),
            "email": "" if rng.random() < 0.1 else sample._email(rng, person_id, region),
            "address": "" if rng.random() < 0.1 else sample._address(rng, region, number),
        }
        cases = 2 if rng.random() < TWO_CASES_SHARE else 1
        for _ in range(min(cases, end - number)):
            amount = rng.choice((85, 140, 260, 480, 950, 1800, 3200)) + rng.randint(0, 99) / 100
            # Small debts get the gentler ladder, as in the sample data.
            schedule = "gentle" if amount < 300 and "gentle" in schedules else schedules[-1]
            yield {
                **person,
                "case_id": f"C{number:08d}",
                "amount": f"{amount:.2f}",
                "currency": region.currency,
                "due_date": dues.due_date(schedule, zone or fallback_zone).isoformat(),
                "schedule": schedule,
                "state": "open",
            }
            number += 1


def write_rows(path: Path, rows: Iterator[dict[str, str]]) -> int:
    """Write ``rows`` as an import CSV readable by its owner only; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            written += 1
    tmp.replace(path)
    return written


def cached_file(count: int, dues: DueDates, fallback_zone: str, anchor: datetime) -> Path:
    """The import file of ``count`` cases for ``anchor``'s hour, generated once per hour."""
    CACHE.mkdir(mode=0o700, exist_ok=True)
    path = CACHE / f"cases-{count}-{anchor:%Y%m%d%H}.csv"
    if not path.exists():
        for old in CACHE.glob(f"cases-{count}-*.csv"):
            old.unlink(missing_ok=True)
        write_rows(path, case_rows(0, count, dues, fallback_zone))
    return path
