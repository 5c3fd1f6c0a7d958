"""simulate's closed-window check counts the person's wishes as windows: a contact in hours
the person asked not to be contacted in is in a closed window, one the wishes allow is not;
a simulation of people with wishes makes no contact in a closed window."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatcher.admin.simulate import (
    VirtualClock,
    collect,
    drive,
    in_closed_window,
    load_cases,
    simulate,
    simulation_runtime,
)
from dispatcher.admin.simulate_report import report_json
from dispatcher.model import HourWish, Person, Wishes
from dispatcher.runtime import load_runtime
from dispatcher.store import open_store
from tests.admin.test_simulate import CASES, PEOPLE, START
from tests.conftest import Deployment

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
# No calls before 13:00 on weekdays; nothing at all after 18:00.
WISHES = Wishes(
    (),
    (
        HourWish("not_before", time(13), channel="voice", days=WEEKDAYS),
        HourWish("not_after", time(18)),
    ),
)
ANN = Person("P1", "Ann One", "en", "America/New_York", wishes=WISHES)
MONDAY = datetime(2026, 3, 2, tzinfo=NEW_YORK)  # local midnight


def _at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return (MONDAY + timedelta(days=day, hours=hour, minutes=minute)).astimezone(UTC)


@pytest.mark.parametrize(
    ("channel", "at", "closed"),
    [
        ("voice", _at(10), True),  # the rules allow 10:00, the person does not
        ("voice", _at(12, 59), True),
        ("voice", _at(13), False),  # allowed by both
        ("voice", _at(10, day=5), False),  # Saturday: the wish names weekdays only
        ("sms", _at(10), False),  # the call wish does not bind sms
        ("sms", _at(18, 30), True),  # … but "not after 18:00" binds every channel
        ("email", _at(17, 59), False),
        ("sms", _at(7), True),  # closed by the rules (08:00–21:00) whatever the wishes
        ("letter", _at(19), False),  # window-exempt: no hours to keep, the wishes' neither
    ],
)
def test_the_check_counts_the_wishes_as_windows(
    deployment: Deployment, channel: str, at: datetime, closed: bool
) -> None:
    policy = load_runtime(deployment.config).policy
    assert in_closed_window(policy, ANN, channel, ("America/New_York",), at) is closed


def test_without_wishes_only_the_rules_close_an_hour(deployment: Deployment) -> None:
    policy = load_runtime(deployment.config).policy
    nobody = replace(ANN, wishes=Wishes())
    assert not in_closed_window(policy, nobody, "voice", ("America/New_York",), _at(10))
    assert in_closed_window(policy, nobody, "voice", ("America/New_York",), _at(20, 30))


def test_a_simulation_keeps_to_the_wishes_and_flags_no_contact(deployment: Deployment) -> None:
    runtime = load_runtime(deployment.config)
    people = [replace(p, wishes=WISHES) if p.id == "P1" else p for p in PEOPLE]
    result = simulate(runtime, people, CASES, start=START, days=12)
    ann = [c for c in result.contacts if c.person_id == "P1" and c.channel != "letter"]
    assert ann, "P1 was contacted on no channel with hours"
    for contact in ann:
        local = contact.at.astimezone(NEW_YORK)
        assert local.time() < time(18), contact
        if contact.channel == "voice" and local.weekday() < 5:
            assert local.time() >= time(13), contact
    assert not [c for c in result.contacts if c.in_closed_window]


def test_a_contact_in_hours_the_person_then_refused_is_reported(
    deployment: Deployment, tmp_path: Path
) -> None:
    """The contacts made, judged against wishes given after them (the check reads the
    wishes in force): each one the wishes now close is counted in the report."""
    runtime = load_runtime(deployment.config)
    store = open_store(f"sqlite:///{tmp_path / 'run.db'}")
    try:
        load_cases(store, PEOPLE, CASES, (), START)
        end = START + timedelta(days=12)
        sim = simulation_runtime(runtime, 0.0, 1)
        asyncio.run(drive(sim, store, VirtualClock(START), end))
        before = collect(store, runtime, START, end)
        assert not [c for c in before.contacts if c.in_closed_window]
        made = [c for c in before.contacts if c.person_id == "P1" and c.channel != "letter"]
        assert made
        # Every hour but the one before midnight refused: each contact is now out of hours.
        late = Wishes((), (HourWish("not_before", time(23)),))
        store.set_wishes("P1", late, now=end, source="test")
        after = collect(store, runtime, START, end)
    finally:
        store.close()
    flagged = {(c.case_id, c.step, c.channel) for c in after.contacts if c.in_closed_window}
    assert flagged == {(c.case_id, c.step, c.channel) for c in made}
    assert report_json(after, None)["in_closed_window"] == len(made)
