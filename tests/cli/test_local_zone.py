"""Times an operator gives for a person without an offset (``enqueue --at``, a pause's
``--until``) are read in the zone the policy and the planner use for that person: inferred
from a Shanghai number and address when no ``timezone`` is on file, not the fallback."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dispatcher.store import schema
from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment


def _shanghai_person_without_zone(dep: Deployment) -> None:
    store = dep.store()
    store.upsert(
        [
            PersonIn(
                "P1",
                "Zhang Fang",
                "zh-CN",
                None,
                ("+8613123454082",),
                (),
                ("上海市示例区幸福路233号",),
            )
        ],
        [CaseIn("C1", "P1", "950.84", "CNY", datetime(2026, 12, 1).date(), "standard")],
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    store.close()


def test_enqueue_at_and_a_pause_until_are_read_in_the_persons_inferred_zone(
    deployment: Deployment,
) -> None:
    dep = deployment
    _shanghai_person_without_zone(dep)

    queued = dep.cli(
        "enqueue", "--case", "C1", "--channel", "sms", "--template", "first_notice",
        "--at", "2030-01-10T10:00",
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    assert "2030-01-10 02:00 UTC" in queued.stdout  # 10:00 in Shanghai, not New York's 15:00

    paused = dep.cli("event", "C1", "plan", "--until", "2030-02-01")
    assert paused.returncode == 0, paused.stderr
    store = dep.store()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        until = conn.execute(select(schema.cases.c.paused_until)).scalar_one()
    store.close()
    # Midnight in Shanghai is 16:00 UTC the day before.
    assert until.replace(tzinfo=UTC) == datetime(2030, 1, 31, 16, tzinfo=UTC)
