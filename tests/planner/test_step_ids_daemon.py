"""A step inserted into the example's ``standard`` schedule while cases are mid-ladder, as an
admin would: ``dispatcher check`` lists what the change does, the daemon reloads, and no step
is sent twice while the new one goes to the cases that have not passed it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from dispatcher.admin.simulate import VirtualClock, collect, drive, load_cases
from dispatcher.daemon import Daemon
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RELOAD = START + timedelta(days=1)
END = START + timedelta(days=16)
# Days before START each case was due: at the reload the new day-5 step (10:00 Shanghai,
# 02:00 UTC) is still ahead for 0, 1 and 2, just past for 4, long past for 5 and 6; case 1's
# call (day 3, 11:00 Shanghai) and case 5's email (day 7, 09:30) are planned and waiting.
OVERDUE = (0, 1, 2, 4, 5, 6)
NEW_STEP = (
    '  { id = "nudge",  day = 5,  channel = "sms",    template = "first_notice",  at = "10:00" },\n'
)


def _people_and_cases() -> tuple[list[PersonIn], list[CaseIn]]:
    people, cases = [], []
    for k in OVERDUE:
        # Every other person has no zone of their own: Shanghai from the number and address.
        zone = "Asia/Shanghai" if k % 2 else None
        people.append(
            PersonIn(
                f"P{k}",
                f"Person {k}",
                "en",
                zone,
                (f"+8613800138{k:03d}",),
                (f"p{k}@example.cn",),
                ("上海市浦东新区世纪大道100号",),
            )
        )
        due = START.date() - timedelta(days=k)
        cases.append(CaseIn(f"C{k}", f"P{k}", "800.00", "CNY", due, "standard"))
    return people, cases


def _insert_step(dep: Deployment) -> None:
    path = dep.config / "schedules.toml"
    lines = path.read_text().splitlines(keepends=True)
    call = next(i for i, line in enumerate(lines) if 'id = "call"' in line)
    lines.insert(call + 1, NEW_STEP)
    path.write_text("".join(lines))


def _run(dep: Deployment, edit: Callable[[Deployment], None]) -> tuple[list[str], Any]:
    """The cases through the daemon in virtual time: planned and partly sent until RELOAD,
    then ``edit`` made to the config, ``check`` run, the daemon reloaded and run to END.
    Returns check's lines and what was sent."""
    people, cases = _people_and_cases()
    store = dep.store()
    load_cases(store, people, cases, (), START)
    store.close()
    clock = VirtualClock(START)
    listed: list[str] = []

    async def run() -> None:
        daemon = Daemon(dep.config, clock=clock)
        task = asyncio.create_task(daemon.run())
        while daemon.dispatcher is None:
            await asyncio.sleep(0.01)
        await drive(
            daemon.runtime,
            daemon.store,
            clock,
            RELOAD,
            dispatcher=daemon.dispatcher,
            plan=daemon.plan,
        )
        edit(dep)
        checked = await asyncio.to_thread(dep.cli, "check", "--no-secrets")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        listed.extend(checked.stdout.splitlines())
        assert await daemon.reload()
        await drive(
            daemon.runtime, daemon.store, clock, END, dispatcher=daemon.dispatcher, plan=daemon.plan
        )
        daemon.stop()
        await task

    asyncio.run(run())
    store = dep.store()
    try:
        result = collect(store, load_runtime(dep.config), START, END)
    finally:
        store.close()
    return listed, result


def test_a_step_inserted_mid_ladder_is_listed_by_check_and_never_resends(
    open_deployment: Deployment,
) -> None:
    listed, result = _run(open_deployment, _insert_step)
    # check, before the reload, named the new step and said nothing planned moves.
    assert any("standard: step nudge added (day 5 10:00 sms first_notice)" in x for x in listed)
    assert not any("would be cancelled" in x or "would be moved" in x for x in listed), listed
    sent = Counter((c.case_id, c.step) for c in result.contacts)
    assert [key for key, n in sent.items() if n > 1] == [], "a step was sent twice"
    # Nor was one step's message sent again under another step's key.
    messages = Counter((c.case_id, c.channel, c.template, c.at.date()) for c in result.contacts)
    assert [key for key, n in messages.items() if n > 1] == []
    nudged = {c.case_id for c in result.contacts if c.step == "nudge"}
    assert nudged == {"C0", "C1", "C2"}
    assert ("C5", "email") in sent, "the email waiting at the reload still went, once"
    # Every case reached its letter; each case's steps went in the ladder's order.
    assert {c.case_id for c in result.contacts if c.step == "letter"} == {f"C{k}" for k in OVERDUE}


def _remove_email_and_move_the_call(dep: Deployment) -> None:
    path = dep.config / "schedules.toml"
    lines = [x for x in path.read_text().splitlines(keepends=True) if 'id = "email"' not in x]
    text = "".join(lines).replace(
        'template = "call_script",   at = "11:00"', 'template = "call_script",   at = "15:00"'
    )
    path.write_text(text)


def test_a_step_removed_or_edited_mid_ladder_cancels_or_moves_what_is_planned(
    open_deployment: Deployment,
) -> None:
    listed, result = _run(open_deployment, _remove_email_and_move_the_call)
    text = "\n".join(listed)
    assert "standard: step email removed (day 7 09:30 email overdue_email)" in text, text
    edited = "day 3 11:00 voice call_script -> day 3 15:00 voice call_script"
    assert f"standard: step call edited ({edited})" in text
    assert "1 planned reminder(s) would be cancelled (step gone):" in text
    assert "case C5 step email: 2026-03-04 09:30 email (Asia/Shanghai)" in text
    assert "1 planned reminder(s) would be moved:" in text
    moved = "2026-03-04 11:00 voice -> 2026-03-04 15:00 voice (Asia/Shanghai)"
    assert f"case C1 step call: {moved}" in text
    sent = Counter((c.case_id, c.step) for c in result.contacts)
    assert [key for key, n in sent.items() if n > 1] == []
    emailed = [c.case_id for c in result.contacts if c.step == "email"]
    assert emailed == ["C6"], "only the email sent before the reload; the removed step never"
    assert all(c.at < RELOAD for c in result.contacts if c.step == "email")
    calls = {c.case_id: c.local.time() for c in result.contacts if c.step == "call"}
    assert calls["C1"] == calls["C0"] == time(15)
    cancelled = [r for r in result.suppressed if r[1] == "email"]
    assert [(case, reason.split(":")[0]) for case, _, reason in cancelled] == [
        ("C5", "step_removed")
    ]
