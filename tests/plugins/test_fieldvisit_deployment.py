"""Field visits in the example deployment: their policy lives in policy.toml (one visit per
case in 30 days, daytime only), their brief renders in every locale, and the commented
``field-visit`` block in dispatcher.toml books a visit in a CRM through the dispatch loop,
retried by the core with the same idempotency key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from dispatcher_fieldvisit.fake_crm import FakeCrm
from sqlalchemy import select

from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    Outcome,
    Person,
    Reminder,
    Verdict,
)
from dispatcher.policy import decide
from dispatcher.runtime import load_runtime
from dispatcher.store import schema
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from dispatcher.testing import Reply
from tests.conftest import Deployment
from tests.policy.conftest import local

SECRET = "a-secret-shared-with-the-crm"
ADDRESS = "17 Quarry Lane, Exampleton"


def visit(case_id: str = "C1") -> Reminder:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    return Reminder(1, case_id, "P1", "standard", "5", "field_visit", "visit_brief", due, due)


PERSON = Person(
    "P1", "Pat Example", "en", "America/New_York", (ContactPoint(1, ContactKind.POSTAL, ADDRESS),)
)
CASE = Case("C1", "P1", "100.00", "USD", date(2025, 12, 1), CaseState.OPEN, "standard", None)


def booked(at: datetime, case_id: str = "C1") -> Attempt:
    return Attempt("A1", 1, "P1", case_id, "field_visit", ADDRESS, at, Outcome.PLACED, True)


def test_one_visit_per_case_in_30_days_in_daytime_hours(deployment: Deployment) -> None:
    policy = load_runtime(deployment.config).policy
    wednesday_2pm = local("America/New_York", 2026, 6, 10, 14)

    assert decide(policy, visit(), PERSON, CASE, (), wednesday_2pm).verdict is Verdict.SEND

    evening = decide(policy, visit(), PERSON, CASE, (), local("America/New_York", 2026, 6, 10, 18))
    assert evening.verdict is Verdict.DEFER and evening.reasons[0].code == "quiet_hours"
    assert evening.until is not None and evening.until >= local("America/New_York", 2026, 6, 11, 9)

    sunday = decide(policy, visit(), PERSON, CASE, (), local("America/New_York", 2026, 6, 14, 11))
    assert sunday.verdict is Verdict.DEFER and sunday.reasons[0].code == "quiet_hours"

    last_visit = wednesday_2pm - timedelta(days=10)
    again = decide(policy, visit(), PERSON, CASE, (booked(last_visit),), wednesday_2pm)
    assert again.verdict is Verdict.DEFER
    assert [r.code for r in again.reasons] == ["rate_limit"]
    assert again.until is not None and again.until >= last_visit + timedelta(days=30)

    other_case = (booked(last_visit, case_id="C2"),)
    assert decide(policy, visit(), PERSON, CASE, other_case, wednesday_2pm).verdict is Verdict.SEND


def test_the_visit_brief_renders_in_every_locale(deployment: Deployment) -> None:
    templates = load_runtime(deployment.config).config.templates
    assert templates.check("field_visit", "visit_brief") == []


def use_field_visit_plugin(dep: Deployment, endpoint: str) -> None:
    """The field_visit channel's commented field-visit block, as dispatcher.toml tells an
    admin, pointing it at ``endpoint``."""
    block = dep.enable_commented("field_visit", {"endpoint": f'"{endpoint}"'})
    assert 'plugin = "field-visit"' in block and 'secret = "${FIELDVISIT_SECRET}"' in block


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCrm]:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,letter,field-visit")
    monkeypatch.setenv("FIELDVISIT_SECRET", SECRET)
    with FakeCrm(SECRET) as crm:
        yield crm


def test_the_commented_field_visit_block_passes_check(
    deployment: Deployment, crm: FakeCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_field_visit_plugin(deployment, crm.url)
    assert deployment.cli("check").returncode == 0

    monkeypatch.delenv("FIELDVISIT_SECRET")
    missing = deployment.cli("check")
    assert missing.returncode == 1
    assert "channels.field_visit.secret: environment variable FIELDVISIT_SECRET" in missing.stdout


def add_due_visit(dep: Deployment) -> None:
    now = datetime.now(UTC)
    store = dep.store()
    person = PersonIn(
        id="P1", name="Pat Example", locale="en", timezone="Asia/Shanghai", addresses=(ADDRESS,)
    )
    case = CaseIn(
        id="C1",
        person_id="P1",
        amount="250.00",
        currency="CNY",
        due_date=date.today() - timedelta(days=40),
        schedule="standard",
    )
    store.upsert([person], [case], now)
    reminder = NewReminder(
        case_id="C1",
        person_id="P1",
        schedule="adhoc",
        step="visit",
        channel="field_visit",
        template="visit_brief",
        due_at=now - timedelta(minutes=1),
    )
    # Planned far ahead, so the planner adds nothing of its own.
    store.add_reminders([reminder], [("C1", now + timedelta(days=3650))], now)
    store.close()


def recorded(dep: Deployment) -> bool:
    return any(a.outcome not in ("reserved", "sending") for a in attempts(dep))


async def run_until(dispatcher: Dispatcher, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(dispatcher.run())
    try:
        for _ in range(500):
            if done() or task.done():
                break
            await asyncio.sleep(0.02)
        assert done(), "the visit was not booked"
    finally:
        dispatcher.stop()
        await task


async def test_a_visit_is_booked_in_the_crm_and_retried_by_the_core(
    open_deployment: Deployment, crm: FakeCrm
) -> None:
    use_field_visit_plugin(open_deployment, crm.url)
    add_due_visit(open_deployment)
    runtime = load_runtime(open_deployment.config)
    store = StoreThread(open_deployment.store())
    dispatcher = Dispatcher(store, runtime)
    await runtime.channels["field_visit"].open()

    with crm.peer.replying(Reply(503), None):  # the CRM fails once, then books the visit
        # Done when the attempt's outcome is recorded: a reserved or sending one is not yet.
        await run_until(dispatcher, lambda: recorded(open_deployment))
    await runtime.channels["field_visit"].close()
    store.shutdown()

    first, retry = crm.peer.received
    [attempt] = attempts(open_deployment)
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == attempt.id
    assert crm.refusals == [] and dispatcher.counters.retried == 1
    [task] = crm.tasks.values()
    assert (attempt.outcome, attempt.provider_id) == ("placed", task["task_id"])
    assert task["address"] == ADDRESS and task["case_id"] == "C1"
    assert task["brief"].startswith("Home visit for Pat Example, account C1.")


def attempts(dep: Deployment) -> list:  # type: ignore[type-arg]
    store = dep.store()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(schema.attempts)).all()
    store.close()
    return [row for row in rows if row.outcome != "reserved"]
