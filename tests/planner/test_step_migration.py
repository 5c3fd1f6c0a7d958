"""A store planned when steps were keyed by position is upgraded (schema 6 → 7) to step ids:
each planned reminder takes its step's default id, ``channel/template`` (a repeat keeps its
``+n``), from its own row, so the planner run after the upgrade plans nothing again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from dispatcher.config import SchedulesFile
from dispatcher.planner import run_planner
from dispatcher.store import open_store
from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

DUE = date(2026, 3, 1)
NOW = datetime(2026, 3, 29, 12, tzinfo=UTC)  # the letter's first repeat (day 29) is tomorrow
LADDER = SchedulesFile.model_validate(
    {
        "schedules": {
            "standard": {
                "steps": [
                    {"day": 1, "channel": "sms", "template": "first_notice"},
                    {"day": 3, "channel": "voice", "template": "call_script"},
                    {"day": 7, "channel": "email", "template": "overdue_email"},
                    {"day": 15, "channel": "letter", "template": "formal_letter"},
                ],
                "repeat": {"every": "14d", "step": "letter/formal_letter", "until_day": 60},
            }
        }
    }
)
# As a schema-6 planner keyed them: by position, a repeat by base position + n.
OLD_KEYS = [("1", "sms", "first_notice"), ("2", "voice", "call_script")]
OLD_KEYS += [("3", "email", "overdue_email"), ("4", "letter", "formal_letter")]


def _reminder(step: str, channel: str, template: str, day: int, case: str = "C1") -> NewReminder:
    due = datetime.combine(DUE + timedelta(days=day), datetime.min.time(), UTC)
    return NewReminder(case, "P1", "standard", step, channel, template, due)


def test_the_upgrade_rekeys_planned_reminders_and_nothing_is_planned_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url)
    store.upsert(
        [PersonIn("P1", "N", "en", "UTC", ("+12125550101",))],
        [
            CaseIn("C1", "P1", "1", "USD", DUE, "standard"),
            CaseIn("C2", "P1", "1", "USD", DUE, "standard"),
        ],
        NOW,
    )
    days = (1, 3, 7, 15)
    rows = [_reminder(k, ch, tpl, d) for (k, ch, tpl), d in zip(OLD_KEYS, days, strict=True)]
    rows.append(_reminder("4+1", "letter", "formal_letter", 29, "C1"))
    rows.append(_reminder("adhoc-1700000000000", "sms", "first_notice", 2))
    # Two rows of one case claiming one id (a ladder that named a template twice): kept.
    rows += [
        _reminder("1", "sms", "first_notice", 1, "C2"),
        _reminder("2", "sms", "first_notice", 2, "C2"),
    ]
    # Planned through an hour ago: the next pass plans the next day, the repeat included.
    earlier = NOW - timedelta(hours=1)
    store.add_reminders(rows, [("C1", earlier), ("C2", earlier)], earlier)
    engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="6"))
    store.close()

    store = open_store(url)  # upgraded
    try:
        assert store.schema_version() == t.SCHEMA_VERSION
        steps = sorted(r.step for r in store.case_history("C1").reminders)
        assert steps == [
            "adhoc-1700000000000",
            "email/overdue_email",
            "letter/formal_letter",
            "letter/formal_letter+1",
            "sms/first_notice",
            "voice/call_script",
        ]
        assert sorted(r.step for r in store.case_history("C2").reminders) == ["1", "2"]
        # C1's letter repeat due tomorrow is planned already, under its new key: not again
        # (C2, which never had it, gets it).
        assert run_planner(store, LADDER, "UTC", NOW) == 1
        assert len(store.case_history("C1").reminders) == 6
        assert "letter/formal_letter+1" in {r.step for r in store.case_history("C2").reminders}
    finally:
        store.close()
