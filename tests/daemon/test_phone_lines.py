"""Massachusetts' two rules by the line of the number (209 CMR 18.16(1)(d)), through the real
daemon over fifteen days of virtual time: two calls a day asked for, a mobile number gets 2
per 7 days, a work number 2 per 30 days, a number of no known line is held to both;
``explain`` names the rule that deferred, and ``simulate`` sends the same."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import date, timedelta

from dispatcher.admin.simulate import VirtualClock, load_cases, simulate
from dispatcher.model import PhoneLine
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment
from tests.daemon.test_jurisdictions import (
    REG_F_AND_MASSACHUSETTS,
    START,
    _configure,
    _run_daemon,
    calls_schedule,
)

DAYS = 15
LINES = {"mobile": PhoneLine.MOBILE, "work": PhoneLine.WORK, "unknown": None}
PEOPLE = [
    PersonIn(
        pid,
        f"Person {pid}",
        "en",
        "America/New_York",
        (f"+1617555014{i}",),
        (),
        (f"{i} Beacon St\nBoston, MA 02108",),
        phone_lines=(line,),
    )
    for i, (pid, line) in enumerate(LINES.items())
]
CASES = [CaseIn(f"C-{p.id}", p.id, "500.00", "USD", date(2026, 5, 31), "standard") for p in PEOPLE]
# Days 1, 8 and 15 for the mobile (the week frees seven days after each call); the first two
# only for the others, whose 30 days have not passed.
EXPECTED = {"mobile": 6, "work": 2, "unknown": 2}


def test_each_number_gets_what_its_line_allows(deployment: Deployment) -> None:
    _configure(deployment, REG_F_AND_MASSACHUSETTS, calls_schedule(DAYS))
    store = deployment.store()
    load_cases(store, PEOPLE, CASES, (), START)
    store.close()
    end = START + timedelta(days=DAYS)
    asyncio.run(_run_daemon(deployment, VirtualClock(START), [(end, None)]))

    sent = Counter(line["person_id"] for line in deployment.outbox_lines())
    assert dict(sent) == EXPECTED

    seven = "jurisdiction massachusetts: overlay us-ma: limits.ma-calls-texts"
    thirty = f"{seven}-other-numbers"
    assert deferred_by(deployment, "C-work") == {thirty}
    assert deferred_by(deployment, "C-mobile") == {seven}
    assert deferred_by(deployment, "C-unknown") == {thirty}
    for pid, shown in (("work", "work line"), ("unknown", "line not known")):
        text = deployment.cli("explain", f"C-{pid}")
        assert text.returncode == 0, text.stderr
        assert f"(ok, {shown})" in " ".join(text.stdout.split())

    simulated = simulate(load_runtime(deployment.config), PEOPLE, CASES, start=START, days=DAYS)
    assert Counter(c.person_id for c in simulated.contacts) == sent


def deferred_by(deployment: Deployment, case_id: str) -> set[str]:
    """The rules ``explain --json`` names for the case's deferrals by a rate limit."""
    result = deployment.cli("explain", case_id, "--json")
    assert result.returncode == 0, result.stderr
    detail = json.loads(result.stdout)
    assert [c["line"] for c in detail["person"]["contacts"] if c["kind"] == "phone"] == [
        LINES[case_id.removeprefix("C-")]
    ]
    return {
        rule
        for entry in detail["history"]
        if entry["what"] == "decision defer"
        for rule in re.findall(r"rate_limit: [^[]*\[([^\]]+)\]", entry["detail"])
    }
