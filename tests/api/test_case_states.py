"""Breathing Space, bankrupt and deceased through the API on a real loopback server over a real
SQLite store: the events, their validation, the case view and what the decisions say."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatcher.model import ReminderState
from tests.api.conftest import Api
from tests.conftest import seed

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the zone ``seed`` gives its people


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


async def test_a_standard_breathing_space_lasts_60_days_and_holds_the_case(api: Api) -> None:
    seed(api.dep, 1)
    before = datetime.now(UTC)
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "breathing-space", "note": "ref BS-1"}
    )
    assert (status, body["event"], body["case"]["state"]) == (200, "breathing-space", "open")
    space = body["case"]["breathing_space"]
    assert space["crisis"] is False
    start, until = datetime.fromisoformat(space["start"]), datetime.fromisoformat(space["until"])
    assert before <= start <= datetime.now(UTC)
    assert until - start == timedelta(days=60)

    status, body = await api.call("GET", "/v1/cases/C0", token="reader")
    assert status == 200 and body["case"]["breathing_space"] == space
    assert any(h["what"] == "event breathing-space" for h in body["history"])


async def test_a_breathing_space_may_be_given_its_end(api: Api) -> None:
    seed(api.dep, 1)
    end = (datetime.now(UTC) + timedelta(days=20)).date()
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "breathing-space", "until": end.isoformat()}
    )
    assert status == 200
    assert datetime.fromisoformat(body["case"]["breathing_space"]["until"]) == _midnight(end)


async def test_a_crisis_moratorium_is_open_ended_until_the_treatment_end_is_recorded(
    api: Api,
) -> None:
    seed(api.dep, 1)
    crisis = {"kind": "breathing-space", "mental_health_crisis": True}
    status, body = await api.call("POST", "/v1/cases/C0/events", json=crisis)
    assert status == 200
    space = body["case"]["breathing_space"]
    assert (space["crisis"], space["until"]) == (True, None)

    treatment = (datetime.now(UTC) + timedelta(days=10)).date()
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={**crisis, "crisis_ends": treatment.isoformat()}
    )
    assert status == 200
    recorded = body["case"]["breathing_space"]
    assert recorded["start"] == space["start"], "recording the end keeps the moratorium's start"
    until = datetime.fromisoformat(recorded["until"])
    assert until == _midnight(treatment) + timedelta(days=30)


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"until": "2001-01-01"}, "until", "before it starts"),
        ({"until": "9999-12-31"}, "until", "more than 10 years"),
        ({"mental_health_crisis": True, "until": "2030-01-01"}, "crisis_ends", "--crisis-ends"),
        ({"crisis_ends": "2030-01-01"}, "until", "mental-health crisis moratorium only"),
        ({"mental_health_crisis": True, "crisis_ends": "2001-01-01"}, "crisis_ends", "before"),
    ],
)
async def test_a_breathing_space_that_means_nothing_is_a_422(
    api: Api, event: dict[str, object], field: str, words: str
) -> None:
    seed(api.dep, 1)
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "breathing-space", **event}
    )
    assert status == 422, body
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert words in error["message"]
    assert api.dep.store().get_case("C0").breathing_space is None


async def test_ending_a_breathing_space_early_resumes_the_ladder(api: Api) -> None:
    seed(api.dep, 1)
    status, _ = await api.call("POST", "/v1/cases/C0/events", json={"kind": "breathing-space"})
    assert status == 200
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "breathing-space-end", "note": "cancelled"}
    )
    assert (status, body["case"]["breathing_space"]) == (200, None)
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "breathing-space-end"}
    )
    assert status == 409 and "no breathing space" in body["detail"]


@pytest.mark.parametrize("state", ["bankrupt", "deceased"])
async def test_bankrupt_and_deceased_are_states_set_by_events(api: Api, state: str) -> None:
    seed(api.dep, 1)
    status, body = await api.call("POST", "/v1/cases/C0/events", json={"kind": state})
    assert (status, body["case"]["state"], body["event"]) == (200, state, state)
    status, body = await api.call("GET", "/v1/cases/C0", token="reader")
    assert body["case"]["state"] == state
    # Suppressed when decided, not cancelled by the event: a template named for the state
    # may still go.
    assert api.dep.store().get_case("C0").state.value == state
    [reminder] = api.dep.store().case_history("C0").reminders
    assert reminder.state is ReminderState.PENDING


# A batch row's person and case, but for the case id.
ROW = {
    "person_id": "P-b",
    "name": "Bo Example",
    "timezone": "Asia/Shanghai",
    "phone": "+8613800000009",
    "amount": "10",
    "currency": "GBP",
    "due_date": "2026-01-15",
    "schedule": "standard",
}


async def test_cases_are_imported_bankrupt_or_deceased(api: Api) -> None:
    row = ROW
    rows = [
        {**row, "case_id": "C-bankrupt", "state": "bankrupt"},
        {**row, "case_id": "C-deceased", "state": "deceased"},
        {**row, "case_id": "C-bad", "state": "dead"},
    ]
    status, body = await api.call("POST", "/v1/cases:batch", json={"rows": rows})
    assert (status, body["accepted"], body["rejected"]) == (200, 2, 1)
    assert body["rows"][2]["errors"][0]["field"] == "state"
    store = api.dep.store()
    assert store.get_case("C-bankrupt").state.value == "bankrupt"
    assert store.get_case("C-deceased").state.value == "deceased"


async def test_a_batch_row_may_give_a_breathing_space(api: Api) -> None:
    row = ROW
    start = date.today() - timedelta(days=1)
    rows = [
        {**row, "case_id": "C-space", "breathing_space_start": str(start)},
        {**row, "case_id": "C-later", "breathing_space_start": str(start + timedelta(days=9))},
    ]
    status, body = await api.call("POST", "/v1/cases:batch", json={"rows": rows})
    assert (status, body["accepted"], body["rejected"]) == (200, 1, 1)
    [error] = body["rows"][1]["errors"]
    assert error["field"] == "breathing_space_start" and "is after now" in error["message"]
    status, body = await api.call("GET", "/v1/cases/C-space", token="reader")
    space = body["case"]["breathing_space"]
    assert datetime.fromisoformat(space["start"]) == _midnight(start)
    assert datetime.fromisoformat(space["until"]) == _midnight(start) + timedelta(days=60)
    assert api.dep.store().get_case("C-later") is None
