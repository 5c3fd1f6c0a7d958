"""Rules by where the person lives, through the real daemon over a week of virtual time: one
config, people in Massachusetts, New York City, Texas, London and Shanghai, each sent exactly
what their jurisdiction allows, in its hours (counted in the outbox, and the same through
``simulate``); a Boston address with a Texas number gets Massachusetts' limits. And New York
City's consent rule: no email without consent, email after a ``consent`` event, none after
``consent-revoked``."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dispatcher.admin.simulate import (
    VirtualClock,
    collect,
    drive,
    load_cases,
    per_jurisdiction,
    simulate,
)
from dispatcher.daemon import Daemon
from dispatcher.model import ReminderState
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.conftest import Deployment

START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # Monday 1 June, before every step
WEEK = timedelta(days=7)
REG_F_AND_MASSACHUSETTS = """
preset = "us-reg-f"

[[jurisdictions]]
name = "massachusetts"
country = "US"
region = "MA"
overlays = ["us-ma"]
"""
POLICY = (
    REG_F_AND_MASSACHUSETTS
    + """
[[jurisdictions]]
name = "nyc"
country = "US"
postal_codes = ["100", "101", "102", "103", "104", "110", "111", "112", "113", "114", "116"]
overlays = ["us-nyc"]

[[jurisdictions]]
name = "uk"
country = "GB"
preset = "uk-fca"

[[jurisdictions]]
name = "shanghai"
country = "CN"
region = "SH"
preset = "cn"
"""
)


def calls_schedule(days: int) -> str:
    """Two calls a day for ``days`` days, at 10:00 and 16:00 local: open hours everywhere, so
    what is sent is what each jurisdiction's limits allow."""
    calls = ", ".join(
        f'{{ id = "call-{day}-{hour}", day = {day}, channel = "voice", '
        f'template = "call_script", at = "{hour}:00" }}'
        for day in range(1, days + 1)
        for hour in (10, 16)
    )
    return f"""
plan_ahead = "1d"

[jobs.plan]
cron = "*/5 * * * *"

[schedules.standard]
catch_up = "all"
steps = [{calls}]
"""


SCHEDULES = (
    calls_schedule(7)
    + """
[schedules.emails]
catch_up = "all"
steps = [{ id = "email", day = 1, channel = "email", template = "overdue_email", at = "10:00" }]
"""
)


def person(pid: str, phone: str, address: str, zone: str) -> tuple[str, tuple[PersonIn, str]]:
    return pid, (PersonIn(pid, f"Person {pid}", "en", None, (phone,), (), (address,)), zone)


PEOPLE = dict(
    [
        person("MA", "+16175550123", "1 Beacon St\nBoston, MA 02108", "America/New_York"),
        person("NYC", "+12125550123", "350 5th Ave\nNew York, NY 10118", "America/New_York"),
        person("TX", "+15125550123", "100 Congress Ave\nAustin, TX 78701", "America/Chicago"),
        person(
            "UK", "+442079460000", "10 Downing St\nLondon SW1A 2AA\nUnited Kingdom", "Europe/London"
        ),
        person("CN", "+862161234567", "上海市浦东新区世纪大道100号 200120", "Asia/Shanghai"),
        person("MA-TX", "+15125550199", "2 Beacon St\nBoston, MA 02108", "America/New_York"),
    ]
)
# The due date is the day before the first step: day 1 is 1 June.
CASES = [CaseIn(f"C-{pid}", pid, "500.00", "USD", date(2026, 5, 31), "standard") for pid in PEOPLE]
EXPECTED = {
    "MA": 2,  # us-ma: 2 calls and texts per 7 days per debt
    "MA-TX": 2,  # the address says Boston: Massachusetts' limits; Texas adds nothing
    "NYC": 3,  # us-nyc: 3 attempts per 7 days per account
    "TX": 7,  # no jurisdiction: Reg F, 7 calls per 7 days
    "UK": 14,  # uk-fca replaces Reg F: no cap, 10:00 and 16:00 are reasonable every day
    "CN": 14,  # cn replaces Reg F: 6 unanswered a day per number, 2 asked for
}


def _configure(dep: Deployment, policy: str = POLICY, schedules: str = SCHEDULES) -> None:
    dep.write("policy.toml", policy)
    dep.write("schedules.toml", schedules)
    dep.set(
        "dispatcher.toml",
        r'^drain_timeout = "30s".*$',
        'drain_timeout = "5s"\nrecord_interval = "1ms"',
    )


async def _run_daemon(dep: Deployment, clock: VirtualClock, phases: list) -> None:  # type: ignore[type-arg]
    """The daemon on ``clock``, driven to each phase's end; each phase's action runs then."""
    daemon = Daemon(dep.config, clock=clock)
    task = asyncio.create_task(daemon.run())
    while daemon.dispatcher is None:
        await asyncio.sleep(0.01)
    for end, action in phases:
        await drive(
            daemon.runtime, daemon.store, clock, end, dispatcher=daemon.dispatcher, plan=daemon.plan
        )
        if action is not None:
            action()
            daemon.dispatcher.wake()
    daemon.stop()
    await task


def test_each_person_gets_exactly_their_jurisdictions_limits_and_windows(
    deployment: Deployment,
) -> None:
    _configure(deployment)
    people = [p for p, _ in PEOPLE.values()]
    store = deployment.store()
    load_cases(store, people, CASES, (), START)
    store.close()
    asyncio.run(_run_daemon(deployment, VirtualClock(START), [(START + WEEK, None)]))

    sent = Counter(line["person_id"] for line in deployment.outbox_lines())
    assert dict(sent) == EXPECTED
    store = deployment.store()
    try:
        runtime = load_runtime(deployment.config)
        result = collect(store, runtime, START, START + WEEK)
    finally:
        store.close()
    assert not [c for c in result.contacts if c.in_closed_window]
    for contact in result.contacts:
        local = contact.at.astimezone(ZoneInfo(PEOPLE[contact.person_id][1]))
        assert local.hour in (10, 16), (contact.person_id, local)
    by_place = per_jurisdiction(result)
    assert by_place == {"massachusetts": 4, "nyc": 3, "uk": 14, "shanghai": 14, "-": 7}

    simulated = simulate(runtime, people, CASES, start=START, days=7)
    assert Counter(c.person_id for c in simulated.contacts) == sent
    assert per_jurisdiction(simulated) == by_place


def test_nyc_email_needs_consent_and_stops_when_it_is_revoked(deployment: Deployment) -> None:
    _configure(deployment)
    nyc = PersonIn(
        "NYC",
        "Person NYC",
        "en",
        None,
        (),
        ("nyc@example.com",),
        ("350 5th Ave\nNew York, NY 10118",),
    )
    store = deployment.store()
    load_cases(
        store, [nyc], [CaseIn("C1", "NYC", "80.00", "USD", date(2026, 5, 31), "emails")], (), START
    )
    store.close()
    day = timedelta(days=1)

    def enqueue(step: str, at: datetime) -> None:
        store = deployment.store()
        store.enqueue(NewReminder("C1", "NYC", "emails", step, "email", "overdue_email", at), at)
        store.close()

    def consent(revoke: bool) -> None:
        kind = "consent-revoked" if revoke else "consent"
        result = deployment.cli(
            "event", "C1", kind, "--channel", "email", "--note", "signed form 7"
        )
        assert result.returncode == 0, result.stderr

    clock = VirtualClock(START)
    phases = [
        (START + 2 * day, lambda: consent(revoke=False)),
        (START + 2 * day + timedelta(hours=1), lambda: enqueue("again", clock())),
        (START + 3 * day, lambda: consent(revoke=True)),
        (START + 3 * day + timedelta(hours=1), lambda: enqueue("once-more", clock())),
        (START + 4 * day, None),
    ]
    asyncio.run(_run_daemon(deployment, clock, phases))

    assert [line["person_id"] for line in deployment.outbox_lines()] == ["NYC"]
    store = deployment.store()
    try:
        history = store.case_history("C1")
    finally:
        store.close()
    states = {r.step: (r.state, history.reminder_reasons.get(r.id)) for r in history.reminders}
    assert states["email"] == (ReminderState.SUPPRESSED, "consent_required")
    assert states["again"][0] is ReminderState.SENT or states["again"][0] is ReminderState.DELIVERED
    assert states["once-more"] == (ReminderState.SUPPRESSED, "consent_required")
    explained = deployment.cli("explain", "C1")
    assert "jurisdictions: nyc (address 1)" in explained.stdout
