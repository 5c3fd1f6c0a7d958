"""An instalment plan through the real daemon (in virtual time) and its API on a loopback
server: a case at ladder step 2 gets a 3-instalment plan; its next step waits; each
instalment's reminders go on their days in the person's window; instalment 2 is missed, so
after the grace the arrangement breaks and the ladder resumes at step 3; explain tells it
all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dispatcher.admin.explain import timeline
from dispatcher.admin.simulate import VirtualClock, collect, drive, load_cases
from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, PersonIn
from tests.api.conftest import add_tokens, bearer
from tests.conftest import Deployment

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 3, 1)
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, day 1 of the ladder
PLAN_AT = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # after step 2 (the call on day 3)
PAY_AT = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
END = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)
INSTALMENTS = [("2026-03-10", "100.00"), ("2026-03-17", "100.00"), ("2026-03-24", "100.00")]


def _load(dep: Deployment) -> None:
    person = PersonIn(
        "P1", "Li Wei", "en", "Asia/Shanghai", ("+8613800138000",), ("li@example.cn",), ()
    )
    store = dep.store()
    try:
        load_cases(
            store, [person], [CaseIn("C1", "P1", "300.00", "CNY", DUE, "standard")], (), START
        )
    finally:
        store.close()


Step = Callable[[datetime], Awaitable[None]]


async def _story(
    dep: Deployment, clock: VirtualClock, script: Callable[[Any, Step], Awaitable[None]]
) -> None:
    daemon = Daemon(dep.config, clock=clock)
    task = asyncio.create_task(daemon.run())
    while daemon.dispatcher is None:
        await asyncio.sleep(0.01)
    app = build_app(daemon.metrics, daemon.ready, daemon.core_access())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()

    async def until(end: datetime) -> None:
        await drive(
            daemon.runtime, daemon.store, clock, end, dispatcher=daemon.dispatcher, plan=daemon.plan
        )
        clock.now = max(clock.now, end)

    try:
        await script(client, until)
    finally:
        await client.close()
        daemon.stop()
        await task


@pytest.fixture
def tokens(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    for env, value in add_tokens(deployment).items():
        monkeypatch.setenv(env, value)
    return deployment


def test_a_missed_instalment_breaks_the_plan_and_the_ladder_resumes(tokens: Deployment) -> None:
    dep = tokens
    _load(dep)
    clock = VirtualClock(START)
    answers: dict[str, Any] = {}

    async def script(client: Any, until: Step) -> None:
        await until(PLAN_AT)
        body = {"kind": "plan", "instalments": [{"due": d, "amount": a} for d, a in INSTALMENTS]}
        response = await client.post(
            "/v1/cases/C1/arrangements", json=body, headers=bearer("writer")
        )
        answers["plan"] = (response.status, await response.json())
        await until(PAY_AT)
        payment = {"amount": "100.00", "date": "2026-03-11", "reference": "bank-7781"}
        response = await client.post(
            "/v1/cases/C1/payments", json=payment, headers=bearer("writer")
        )
        answers["payment"] = (response.status, await response.json())
        await until(END)
        response = await client.get("/v1/cases/C1/arrangements", headers=bearer("reader"))
        answers["after"] = (response.status, await response.json())

    asyncio.run(_story(dep, clock, script))

    status, made = answers["plan"]
    assert status == 201, made
    assert made["case"]["state"] == "plan"
    assert [i["due"] for i in made["arrangement"]["instalments"]] == [d for d, _ in INSTALMENTS]
    status, paid = answers["payment"]
    assert status == 200, paid
    assert (paid["balance"], paid["settled"]) == ("200.00", [1])
    status, after = answers["after"]
    [arrangement] = after["arrangements"]
    assert arrangement["state"] == "broken"
    assert "instalment 2 of 3 (due 2026-03-17, 100.00 CNY) unpaid" in arrangement["reason"]

    store = dep.store()
    try:
        result = collect(store, load_runtime(dep.config), START, END)
        history = store.case_history("C1")
    finally:
        store.close()
    sent = [(c.step, c.at.astimezone(SHANGHAI)) for c in result.contacts]
    steps = [step for step, _ in sent]
    # The ladder's steps 1 and 2 before the plan; step 3 (the day-7 email) not while it held.
    assert steps[:2] == ["notice", "call"]
    email_at = next(at for step, at in sent if step == "email")
    broke_at = next(e["at"] for e in history.events if e["kind"] == "arrangement_broken")
    # Broken once instalment 2 (due 03-17, its day over at 03-18 00:00) was 3 days late.
    assert (
        datetime(2026, 3, 21, tzinfo=SHANGHAI) <= broke_at < datetime(2026, 3, 22, tzinfo=SHANGHAI)
    )
    assert email_at >= broke_at
    # Each instalment's reminders on their days, at their times in the person's zone:
    # 3 days before at 10:00 and on the day at 09:00; none for instalment 3 after the break.
    reminded = {step: at for step, at in sent if step.count("/") == 2}
    assert {
        s.split("/", 1)[1]: (at.date().isoformat(), at.strftime("%H:%M"))
        for s, at in reminded.items()
    } == {
        "1/before": ("2026-03-07", "10:00"),
        "1/due": ("2026-03-10", "09:00"),
        "2/before": ("2026-03-14", "10:00"),
        "2/due": ("2026-03-17", "09:00"),
    }
    # Each says which instalment, how much is left of it, and when.
    bodies = [m["body"] for m in dep.outbox_lines() if m["template"] == "instalment_reminder"]
    assert any(
        "instalment 2 of 3 under the plan you agreed, 100.00 CNY, is due on 2026-03-17" in b
        for b in bodies
    ), bodies
    # The whole story in explain: the arrangement, its payment, its break and why.
    story = [f"{what} {detail}" for _, _, what, detail in timeline(history)]
    for needle in (
        "event arrangement by api:writer: arrangement 1: a plan of 3 instalments",
        "event payment by api:writer: 100.00 CNY paid on 2026-03-11 (reference bank-7781); "
        "instalment 1 settled; balance 200.00 CNY",
        "event arrangement_broken by planner: arrangement 1: instalment 2 of 3",
        "decision suppress arrangement_broken:",  # instalment 3's reminders cancelled
    ):
        assert any(needle in line for line in story), (needle, story)
    explained = dep.cli("explain", "C1")
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    assert "arrangement 1, plan made 2026-03-05 02:00:00 UTC: broken (instalment 2 of 3" in text
    assert (
        "1: 100.00 CNY by 2026-03-10, paid 100.00 (settled); 2: 100.00 CNY by 2026-03-17, paid 0"
        in text
    )
