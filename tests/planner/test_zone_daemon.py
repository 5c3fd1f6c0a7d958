"""The example person with no time zone on file and Shanghai numbers and address, imported
with ``dispatcher import`` and planned by the daemon: the standard ladder's ``at = "10:00"``
SMS goes at 10:00 Asia/Shanghai (not 10:00 in the fallback zone, New York, which the policy
would then defer to the next Shanghai morning), and ``explain`` says so."""

from __future__ import annotations

import asyncio
import csv
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatcher.admin.simulate import VirtualClock, collect, drive
from dispatcher.daemon import Daemon
from dispatcher.intake import FIELDS
from dispatcher.runtime import load_runtime
from tests.conftest import Deployment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "config"))
from sample_data import sample_rows  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_an_example_person_without_a_zone_gets_10_00_steps_at_10_00_shanghai(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    today = date.today()
    rows = sample_rows(today)
    (person,) = [r for r in rows if not r["timezone"] and r["locale"] == "zh-CN"]
    data = tmp_path / "people.csv"
    with data.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    imported = dep.cli("import", str(data))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    start = datetime.combine(today, time(1), tzinfo=UTC)  # 09:00 in Shanghai
    clock = VirtualClock(start)

    async def run() -> None:
        daemon = Daemon(dep.config, clock=clock)
        task = asyncio.create_task(daemon.run())
        while daemon.dispatcher is None:
            await asyncio.sleep(0.01)
        await drive(
            daemon.runtime,
            daemon.store,
            clock,
            start + timedelta(hours=3),
            dispatcher=daemon.dispatcher,
            plan=daemon.plan,
        )
        daemon.stop()
        await task

    asyncio.run(run())
    store = dep.store()
    try:
        result = collect(store, load_runtime(dep.config), start, start + timedelta(hours=3))
    finally:
        store.close()
    sent = [c for c in result.contacts if c.case_id == person["case_id"]]
    assert [(c.step, c.channel) for c in sent] == [("notice", "sms")]
    assert sent[0].at.astimezone(SHANGHAI).time() == time(10)
    assert sent[0].zone == "Asia/Shanghai"

    explained = dep.cli("explain", person["case_id"])
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    assert "time zone used: Asia/Shanghai — from the phone numbers and postal address" in text
    assert "steps are planned at their `at` time in Asia/Shanghai" in text
