"""``dispatcher event`` for a Breathing Space moratorium, its end, and the bankrupt and
deceased states, against a real store: what is recorded, what is said, what is refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Deployment, seed

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the zone ``seed`` gives its people


def _space(dep: Deployment):  # type: ignore[no-untyped-def]
    store = dep.store()
    try:
        return store.get_case("C0").breathing_space  # type: ignore[union-attr]
    finally:
        store.close()


def test_breathing_space_holds_60_days_unless_given_its_end(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 1)
    result = dep.cli("event", "C0", "breathing-space")
    assert result.returncode == 0, result.stderr
    assert "case C0: open; a breathing space since" in result.stdout
    space = _space(dep)
    assert space.until - space.start == timedelta(days=60) and not space.crisis

    end = (datetime.now(UTC) + timedelta(days=20)).date()
    result = dep.cli("event", "C0", "breathing-space", "--until", end.isoformat())
    assert result.returncode == 0, result.stderr
    assert _space(dep).until == datetime.combine(end, time(), SHANGHAI)

    result = dep.cli("event", "C0", "breathing-space-end", "--note", "cancelled at review")
    assert result.returncode == 0, result.stderr
    assert _space(dep) is None and "breathing space" not in result.stdout
    result = dep.cli("event", "C0", "breathing-space-end")
    assert result.returncode == 2 and "case C0 has no breathing space to end" in result.stderr
    explained = json.loads(dep.cli("explain", "C0", "--json").stdout)
    assert any(h["what"] == "event breathing-space-end" for h in explained["history"])


def test_a_crisis_moratorium_runs_until_30_days_after_the_treatment(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    seed(dep, 1)
    result = dep.cli("event", "C0", "breathing-space", "--mental-health-crisis")
    assert result.returncode == 0, result.stderr
    assert "not yet recorded" in result.stdout
    assert _space(dep).crisis and _space(dep).until is None
    explained = dep.cli("explain", "C0")
    assert "mental-health crisis breathing space" in explained.stdout

    ends = (datetime.now(UTC) + timedelta(days=5)).date()
    result = dep.cli(
        "event", "C0", "breathing-space", "--mental-health-crisis", "--crisis-ends", str(ends)
    )
    assert result.returncode == 0, result.stderr
    expected = datetime.combine(ends, time(), SHANGHAI) + timedelta(days=30)
    assert _space(dep).until == expected


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("breathing-space", "--crisis-ends", "2030-01-01"), "--crisis-ends needs"),
        (("breathing-space", "--mental-health-crisis", "--until", "2030-01-01"), "--crisis-ends"),
        (("breathing-space", "--until", "2001-01-01"), "before it starts"),
        (("breathing-space", "--until", "9999-12-31"), "more than 10 years"),
        (("dispute", "--mental-health-crisis"), "for breathing-space only"),
        (("breathing-space", "--until", "soon"), "not a date"),
    ],
)
def test_a_moratorium_that_means_nothing_is_refused(
    open_deployment: Deployment, args: tuple[str, ...], words: str
) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli("event", "C0", *args)
    assert result.returncode == 2, result.stdout
    assert words in result.stderr and "Traceback" not in result.stderr
    assert _space(open_deployment) is None


@pytest.mark.parametrize("state", ["bankrupt", "deceased"])
def test_bankrupt_and_deceased_are_recorded(open_deployment: Deployment, state: str) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli("event", "C0", state, "--note", "notified")
    assert result.returncode == 0, result.stderr
    assert f"case C0: {state}" in result.stdout
    explained = open_deployment.cli("explain", "C0")
    assert f"case C0: {state}" in explained.stdout and f"event {state}" in explained.stdout


def test_an_import_may_give_the_states(open_deployment: Deployment) -> None:
    dep = open_deployment
    rows = (
        "person_id,name,phone,case_id,amount,currency,due_date,schedule,state\n"
        f"P1,Bo,+8613800000001,C1,10,CNY,{date.today()},standard,deceased\n"
        f"P2,Cy,+8613800000002,C2,10,CNY,{date.today()},standard,bankrupt\n"
        f"P3,Di,+8613800000003,C3,10,CNY,{date.today()},standard,dead\n"
    )
    path = dep.root / "cases.csv"
    path.write_text(rows, encoding="utf-8")
    result = dep.cli("import", str(path))
    assert "row 4: state: not a case state (got 'dead')" in result.stderr + result.stdout
    store = dep.store()
    try:
        assert store.get_case("C1").state.value == "deceased"  # type: ignore[union-attr]
        assert store.get_case("C2").state.value == "bankrupt"  # type: ignore[union-attr]
    finally:
        store.close()
