"""The planner reads a step's ``at`` in the zone the policy infers for a person without one
(their address first, then their numbers), and a new address that moves that zone has the
person's cases looked at again."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dispatcher.config import SchedulesFile
from dispatcher.planner import run_planner
from dispatcher.store import open_store
from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, PersonIn

DUE = date(2026, 11, 2)
SCHEDULES = SchedulesFile.model_validate(
    {"schedules": {"s": {"steps": [{"id": "later", "day": 5, "channel": "sms", "template": "a"}]}}}
)


def _next_plan_at(store, case_id: str) -> datetime:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        c = t.cases.c
        return conn.execute(select(c.next_plan_at).where(c.id == case_id)).scalar_one()


def test_a_new_address_moves_the_zone_a_step_is_planned_in(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'z.db'}")
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    person = PersonIn("P1", "N", "zh-CN", None, ("+12125550101",))
    try:
        store.upsert([person], [CaseIn("C1", "P1", "1", "CNY", DUE, "s")], now)
        run_planner(store, SCHEDULES, "Europe/London", now)
        day_5 = datetime.combine(DUE + timedelta(days=5), time(10))
        assert _next_plan_at(store, "C1") == day_5.replace(tzinfo=ZoneInfo("America/New_York"))
        # Moved to Shanghai: the address comes first, the New York number still counts.
        moved = PersonIn("P1", "N", "zh-CN", None, ("+12125550101",), (), ("上海市浦东新区1号",))
        store.upsert([moved], [CaseIn("C1", "P1", "1", "CNY", DUE, "s")], now)
        run_planner(store, SCHEDULES, "Europe/London", now)
        assert _next_plan_at(store, "C1") == day_5.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    finally:
        store.close()
