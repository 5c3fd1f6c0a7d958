"""The person's own wishes through the real daemon. Over three days of virtual time, a
person who asked for no calls before 10:00 is called only from 10:00 local (each deferral
saying ``preference``), the SMS they refused is never sent and its suppression says why, the
language they asked for writes their calls, a person beside them without wishes is called
and texted at the planned hours, and ``simulate`` agrees; and the daemon as a subprocess on
the real clock holds a call to "not before 10:00" while it calls the person beside them at
once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.admin.simulate import VirtualClock, collect, load_cases, simulate
from dispatcher.model import HourWish, ReminderState, Wishes
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.conftest import OPEN_ALL_DAY, Deployment, stop, wait_for
from tests.daemon.test_jurisdictions import _run_daemon

ZONE = "America/New_York"
START = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # Monday 1 June, 00:00 in New York
DAYS = 3
# Calls at 07:00, 08:00 and 09:00 local on each day, and a text at 08:00 on day 1.
STEPS = [
    *(
        f'{{ id = "call-{day}-{hour}", day = {day}, channel = "voice", '
        f'template = "call_script", at = "{hour:02d}:00" }}'
        for day in range(1, DAYS + 1)
        for hour in (7, 8, 9)
    ),
    '{ id = "text", day = 1, channel = "sms", template = "first_notice", at = "08:00" }',
]
SCHEDULES = (
    'plan_ahead = "1d"\n[jobs.plan]\ncron = "*/5 * * * *"\n'
    f'[schedules.standard]\ncatch_up = "all"\nsteps = [{", ".join(STEPS)}]\n'
)


def _person(pid: str, phone: str) -> PersonIn:
    return PersonIn(pid, f"Person {pid}", "en", ZONE, (phone,))


def _case(pid: str) -> CaseIn:
    # Due the day before the first step: day 1 is 1 June.
    return CaseIn(f"C-{pid}", pid, "80.00", "USD", date(2026, 5, 31), "standard")


def test_no_calls_before_10_and_no_refused_sms_over_three_days(deployment: Deployment) -> None:
    dep = deployment
    dep.write("policy.toml", OPEN_ALL_DAY)  # every hour open: only the wishes hold calls back
    dep.write("schedules.toml", SCHEDULES)
    dep.set(
        "dispatcher.toml",
        r'^drain_timeout = "30s".*$',
        'drain_timeout = "5s"\nrecord_interval = "1ms"',
    )
    store = dep.store()
    load_cases(
        store,
        [_person("W", "+12125550101"), _person("N", "+12125550102")],
        [_case("W"), _case("N")],
        (),
        START,
    )
    store.close()
    wished = dep.cli(
        "wishes", "set", "W", "--hours", "voice not before 10:00", "--refuse", "sms",
        "--language", "zh-CN",
    )  # fmt: skip
    assert wished.returncode == 0, wished.stderr
    end = START + timedelta(days=DAYS)
    asyncio.run(_run_daemon(dep, VirtualClock(START), [(end, None)]))

    store = dep.store()
    try:
        runtime = load_runtime(dep.config)
        contacts = collect(store, runtime, START, START + timedelta(days=DAYS)).contacts
        wished_history = store.case_history("C-W")
        plain_history = store.case_history("C-N")
    finally:
        store.close()
    local = {
        pid: sorted(
            (c.channel, c.at.astimezone(ZoneInfo(ZONE))) for c in contacts if c.person_id == pid
        )
        for pid in ("W", "N")
    }
    # The person beside them, without wishes, is called at 07:00, 08:00 and 09:00 and texted.
    assert sorted(t.hour for ch, t in local["N"] if ch == "voice") == sorted([7, 8, 9] * DAYS)
    assert [ch for ch, _ in local["N"]].count("sms") == 1
    # The person who asked: every call, and only calls, from 10:00 local.
    calls = [t for ch, t in local["W"] if ch == "voice"]
    assert len(calls) == 3 * DAYS and [ch for ch, _ in local["W"]] == ["voice"] * (3 * DAYS)
    assert all(t.time() >= time(10) for t in calls), calls
    assert all(t.date() == (START + timedelta(days=d)).date() for d, t in _by_day(calls))

    reminders = {r.step: r for r in wished_history.reminders}
    assert reminders["text"].state is ReminderState.SUPPRESSED
    assert wished_history.reminder_reasons[reminders["text"].id] == "preference"
    deferrals = [d for d in wished_history.decisions if d["verdict"] == "defer"]
    assert len(deferrals) >= 3 * DAYS
    assert all(code == "preference" for d in deferrals for code, *_ in d["reasons"])
    suppressed = [d for d in wished_history.decisions if d["verdict"] == "suppress"]
    assert [r[1] for d in suppressed for r in d["reasons"]] == [
        "the person refused sms, set " + (suppressed[0]["reasons"][0][1].split("set ", 1)[1])
    ]
    assert "by cli" in suppressed[0]["reasons"][0][1]
    assert not [d for d in plain_history.decisions if d["verdict"] == "defer"]

    # The language asked for writes the call script; the other person's stays English.
    locales = {(line["person_id"], line["locale"]) for line in dep.outbox_lines()}
    assert locales == {("W", "zh-CN"), ("N", "en")}

    assert (
        "07:00 America/New_York: the person asked for no voice before 10:00"
        in (deferrals[0]["reasons"][0][1])
    )
    explained = json.loads(dep.cli("explain", "C-W", "--json").stdout)
    assert (
        "wishes of the person: refused sms; no voice before 10:00; language zh-CN (set "
        in " ".join(explained["notes"])
    )
    assert "templates in zh-CN" in " ".join(explained["notes"])

    # simulate, over the same people with the wishes given as an import gives them, agrees.
    wishes = Wishes(("sms",), (HourWish("not_before", time(10), channel="voice"),), "zh-CN")
    people = [replace(_person("W", "+12125550101"), wishes=wishes), _person("N", "+12125550102")]
    simulated = simulate(runtime, people, [_case("W"), _case("N")], start=START, days=DAYS)
    assert Counter((c.person_id, c.channel) for c in simulated.contacts) == Counter(
        (c.person_id, c.channel) for c in contacts
    )
    assert all(
        c.at.astimezone(ZoneInfo(ZONE)).time() >= time(10)
        for c in simulated.contacts
        if c.person_id == "W"
    )


def _by_day(calls: list[datetime]) -> list[tuple[int, datetime]]:
    """Each call with the day of the run it falls on (0 for the first)."""
    first = calls[0].date()
    return [((t.date() - first).days, t) for t in calls]


def _zone_at_seven(now: datetime) -> str:
    """A zone where it is now 07:xx: 10:00 is at least two hours away there."""
    offset = (7 - now.hour + 12) % 24 - 12  # -12..+11 hours from UTC
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # POSIX signs: GMT+5 is UTC-5


def test_the_daemon_process_holds_a_call_to_the_persons_10_oclock(deployment: Deployment) -> None:
    dep = deployment
    dep.write("policy.toml", OPEN_ALL_DAY)  # every hour open: only the wish holds the call
    now = datetime.now(UTC)
    zone = _zone_at_seven(now)
    assert now.astimezone(ZoneInfo(zone)).hour == 7, zone
    store = dep.store()
    people = [
        PersonIn(pid, f"Person {pid}", "en", zone, (phone,))
        for pid, phone in (("W", "+12125550101"), ("N", "+12125550102"))
    ]
    cases = [CaseIn(f"C-{p.id}", p.id, "80.00", "USD", date.today(), "adhoc-only") for p in people]
    store.upsert(people, cases, now)
    store.add_reminders(
        [
            NewReminder(
                f"C-{pid}", pid, "test", step, channel, template, now - timedelta(minutes=1)
            )
            for pid in ("W", "N")
            for step, channel, template in (
                ("1", "voice", "call_script"),
                ("2", "sms", "first_notice"),
            )
        ],
        [(c.id, now + timedelta(days=3650)) for c in cases],  # nothing planned of its own
        now,
    )
    store.close()
    wished = dep.cli("wishes", "set", "W", "--hours", "voice not before 10:00", "--refuse", "sms")
    assert wished.returncode == 0, wished.stderr

    process = dep.start()
    try:
        wait_for(lambda: len(dep.outbox_lines()) == 2)
        wait_for(lambda: _states(dep, "C-W") == {"1": "pending", "2": "suppressed"})
    finally:
        stop(process)
    assert sorted((line["person_id"], line["channel"]) for line in dep.outbox_lines()) == [
        ("N", "sms"),
        ("N", "voice"),
    ]
    store = dep.store()
    try:
        history = store.case_history("C-W")
    finally:
        store.close()
    call = next(r for r in history.reminders if r.step == "1")
    assert history.reminder_reasons[call.id] == "preference"
    assert call.due_at.astimezone(ZoneInfo(zone)).time() >= time(10)
    text = next(r for r in history.reminders if r.step == "2")
    assert history.reminder_reasons[text.id] == "preference"


def _states(dep: Deployment, case_id: str) -> dict[str, str]:
    store = dep.store()
    try:
        return {r.step: r.state.value for r in store.case_history(case_id).reminders}
    finally:
        store.close()
