"""``simulate`` runs the daemon's own code in virtual time: a daemon run with a virtual clock
over the same cases makes exactly the same contacts, none of them in a closed window."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatcher.admin.simulate import VirtualClock, collect, drive, load_cases, simulate
from dispatcher.admin.simulate_report import compare
from dispatcher.cli import main
from dispatcher.daemon import Daemon
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment
from tests.store.test_store import placed

# Two people and their cases in the import format, for the command's --data.
DATA = (
    "person_id,name,locale,timezone,phone,email,address,case_id,amount,currency,due_date,"
    "schedule\n"
    "P1,Ann One,en,America/New_York,+12125550101,a@example.com,,C1,500.00,USD,2026-02-28,"
    "standard\n"
    "P2,Bo Two,zh-CN,Asia/Shanghai,+8613800138001,b@example.cn,,C2,800.00,CNY,2026-02-27,"
    "standard\n"
)
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a week that holds the US clock change
DAYS = 12

PEOPLE = [
    PersonIn("P1", "Ann One", "en", "America/New_York", ("+12125550101",), ("a@example.com",)),
    PersonIn("P2", "Bo Two", "zh-CN", "Asia/Shanghai", ("+8613800138001",), ("b@example.cn",)),
    # No zone: a New York number and a California address (both zones must be open).
    PersonIn(
        "P3",
        "Cy Three",
        "en",
        None,
        ("+12125550103",),
        ("c@example.com",),
        ("1 Example Street\nLos Angeles, CA 90012",),
    ),
    PersonIn("P4", "Di Four", "en", "Europe/London", ("+442079460104",), ("d@example.com",)),
    # Nothing to infer a zone from: the fallback zone applies.
    PersonIn("P5", "Ed Five", "en", None, ("+15550000105",), ("e@example.com",)),
]
CASES = [
    CaseIn(f"C{n}", f"P{n}", "500.00", "USD", date(2026, 3, 1) - timedelta(days=n), "standard")
    for n in range(1, 6)
] + [CaseIn("C6", "P1", "120.00", "USD", date(2026, 2, 27), "gentle")]


@pytest.fixture
def dep(deployment: Deployment) -> Deployment:
    # Faster recording in real time; nothing about what is decided.
    deployment.set(
        "dispatcher.toml",
        r'^drain_timeout = "30s".*$',
        'drain_timeout = "5s"\nrecord_interval = "1ms"',
    )
    return deployment


def _daemon_run(dep: Deployment) -> list[tuple[str, str, str, datetime]]:
    store = dep.store()
    load_cases(store, PEOPLE, CASES, (), START)
    store.close()
    clock = VirtualClock(START)

    async def run() -> None:
        daemon = Daemon(dep.config, clock=clock)
        task = asyncio.create_task(daemon.run())
        while daemon.dispatcher is None:
            await asyncio.sleep(0.01)
        await drive(
            daemon.runtime,
            daemon.store,
            clock,
            START + timedelta(days=DAYS),
            dispatcher=daemon.dispatcher,
            plan=daemon.plan,
        )
        daemon.stop()
        await task

    asyncio.run(run())
    store = dep.store()
    try:
        result = collect(store, load_runtime(dep.config), START, START + timedelta(days=DAYS))
    finally:
        store.close()
    return [(c.case_id, c.step, c.channel, c.at) for c in result.contacts]


def test_simulate_and_a_daemon_with_a_virtual_clock_make_the_same_contacts(
    dep: Deployment,
) -> None:
    runtime = load_runtime(dep.config)
    result = simulate(runtime, PEOPLE, CASES, start=START, days=DAYS)
    simulated = [(c.case_id, c.step, c.channel, c.at) for c in result.contacts]
    assert len(simulated) >= 10
    assert {c.channel for c in result.contacts} >= {"sms", "voice", "email"}
    assert not [c for c in result.contacts if c.in_closed_window]
    assert not dep.db.exists()  # simulate never touched the live store

    assert _daemon_run(dep) == simulated
    # The daemon really sent through its channels (letters are spooled as PDF + manifest).
    letters = list(dep.outbox.glob("*.json"))
    assert len(dep.outbox_lines()) + len(letters) == len(simulated)


def test_compare_reports_added_removed_and_moved(dep: Deployment, tmp_path: Path) -> None:
    runtime = load_runtime(dep.config)
    base = simulate(runtime, PEOPLE, CASES, start=START, days=DAYS)
    # The call four hours later; the gentle ladder's email beyond the simulated days.
    dep.set(
        "schedules.toml",
        r'template = "call_script",   at = "11:00"',
        ('template = "call_script",   at = "15:00"'),
    )
    dep.set("schedules.toml", r'day = 10, channel = "email"', 'day = 40, channel = "email"')
    other = simulate(load_runtime(dep.config), PEOPLE, CASES, start=START, days=DAYS)
    changes = compare(base, other)
    assert {"moved", "removed"} <= {c.kind for c in changes}
    removed = [c for c in changes if c.kind == "removed"]
    assert [c.key for c in removed] == [("C6", "email", "email")]
    assert compare(base, base) == []


def _simulate_data(dep: Deployment, data: Path, *options: str) -> Result:
    """``simulate --days 10 --data DATA --start 2026-03-02`` and ``options``."""
    return CliRunner().invoke(
        main,
        ["--config", str(dep.config), "simulate", "--days", "10", "--data", str(data)]
        + ["--start", "2026-03-02", *options],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )


def test_simulate_command_prints_charts_and_writes_a_page(dep: Deployment, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text(DATA)
    page = tmp_path / "sim.html"
    result = _simulate_data(dep, data, "--html", str(page))
    assert result.exit_code == 0, result.output
    assert "contacts by hour of day" in result.output
    assert "contacts in a closed window: 0" in result.output
    assert "Ann One" not in result.output and "+12125550101" not in result.output
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "</html>" in text
    assert "<script" not in text and "http" not in text  # self-contained


def test_a_breathing_space_in_the_data_holds_its_case(dep: Deployment, tmp_path: Path) -> None:
    lines = DATA.splitlines()
    rows = [lines[0] + ",breathing_space_start", lines[1] + ",2026-03-01", lines[2] + ","]
    # A third row whose moratorium starts after the simulation's start: left out, named.
    rows.append(lines[2].replace("P2", "P3").replace("C2", "C3") + ",2026-03-05")
    data = tmp_path / "people.csv"
    data.write_text("\n".join(rows) + "\n")
    result = _simulate_data(dep, data, "--json")
    assert result.exit_code == 0, result.output
    assert "row 4: breathing_space_start: 2026-03-05 is after now (2026-03-02)" in result.output
    report = json.loads(result.stdout)
    contacted = {entry["case"] for entry in report["timeline"]}
    assert contacted == {"C2"}  # C1 held for 60 days from 2026-03-01, C3 left out


def test_simulating_the_store_sees_its_history_and_leaves_it_untouched(dep: Deployment) -> None:
    from dispatcher.model import ContactKind, Decision, Verdict
    from dispatcher.store.api import NewReminder
    from tests.conftest import seed

    dep.write(
        "policy.toml",
        'jitter = "0s"\n[[windows]]\nfrom = "00:00"\nto = "24:00"\n'
        '[[limits]]\nchannels = ["sms"]\nmax = 3\nper = "1d"\n',
    )
    now = datetime.now(UTC).replace(microsecond=0)
    seed(dep, 1, due=now + timedelta(minutes=5))
    store = dep.store()
    # Three texts an hour ago: the limit of 3 a day is reached until they age out.
    store.add_reminders(
        [
            NewReminder(
                case_id="C0",
                person_id="P0",
                schedule="past",
                step=str(k),
                channel="sms",
                template="first_notice",
                due_at=now - timedelta(hours=1),
            )
            for k in range(3)
        ],
        [],
        now,
    )

    def send(reminder, person, case, history):  # type: ignore[no-untyped-def]
        return Decision(
            Verdict.SEND,
            now,
            contact=next(c for c in person.contacts if c.kind is ContactKind.PHONE),
        )

    for _ in range(3):
        batch = store.claim_due(now - timedelta(hours=1), 1, send, timedelta(0))
        store.record(placed(batch.claims, now, channel="sms"))
    before = store.status(now).by_state_channel
    store.close()

    runtime = load_runtime(dep.config)
    result = simulate(runtime, start=now, days=2, source_url=dep.url)
    contacts = [c for c in result.contacts if c.case_id == "C0"]
    [contact] = contacts
    # Not at its due time (now + 5 min) but once the oldest text leaves the day.
    assert contact.at >= now - timedelta(hours=1) + timedelta(days=1)
    store = dep.store()
    assert store.status(now).by_state_channel == before, "the live store is not written"
    store.close()


def _store_with_a_plan(dep: Deployment, now: datetime) -> None:
    from decimal import Decimal

    from dispatcher.config import load_config
    from dispatcher.planner.arrangements import make_arrangement
    from dispatcher.policy.arrangements import Proposed

    store = dep.store()
    try:
        load_cases(
            store,
            PEOPLE[1:2],
            [CaseIn("C2", "P2", "200.00", "CNY", date(2026, 3, 1), "standard")],
            (),
            now,
        )
        config = load_config(dep.config, check_templates=False, secrets=False)
        plan = [
            Proposed(date(2026, 3, 9), Decimal("100.00")),
            Proposed(date(2026, 3, 16), Decimal("100.00")),
        ]
        make_arrangement(store, config, "C2", "plan", plan, now=now, source="test")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("paid", "states", "steps"),
    [
        # Every instalment paid on its day: kept, the balance is 0 and the case is paid.
        (1.0, {"kept": 1}, ["1/before", "1/due", "2/before", "2/due"]),
        # None paid: broken after instalment 1's grace; the ladder resumes with the call it
        # held (the step due when the plan was made), and instalment 2 is not reminded of.
        (0.0, {"broken": 1}, ["1/before", "1/due", "call"]),
    ],
)
def test_simulate_plays_arrangements_forward_kept_or_broken(
    dep: Deployment, paid: float, states: dict[str, int], steps: list[str]
) -> None:
    now = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    _store_with_a_plan(dep, now)
    runtime = load_runtime(dep.config)
    result = simulate(runtime, start=now, days=14, source_url=dep.url, instalments_paid=paid)
    assert result.arrangements == states
    sent = [c.step.split("/", 1)[1] if c.step.count("/") == 2 else c.step for c in result.contacts]
    assert sent[: len(steps)] == steps
    assert not any(s.startswith("2/") for s in sent[len(steps) :])
    if paid:
        assert sent == steps, "the case is paid: nothing of the ladder follows"
    # The live store is untouched: its arrangement is still active.
    store = dep.store()
    try:
        assert store.arrangement_counts() == {"active": 1}
    finally:
        store.close()
