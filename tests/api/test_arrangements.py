"""``/v1/cases/{id}/arrangements`` and ``/payments`` on a loopback server over a real store:
made (201), listed, cancelled; a case that allows none is a 409 with the reason; terms out
of bounds a 422 naming each field and value; a payment's result."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.api.openapi import document
from dispatcher.store.api import CaseIn, PersonIn
from tests.api.conftest import Api
from tests.conftest import shanghai_today


def _day(n: int) -> str:
    return (shanghai_today() + timedelta(days=n)).isoformat()


def _case(api: Api, amount: str = "300.00") -> None:
    store = api.dep.store()
    try:
        store.upsert(
            [PersonIn("P1", "Li Wei", "en", "Asia/Shanghai", ("+8613800138000",), (), ())],
            [CaseIn("C1", "P1", amount, "CNY", date(2026, 1, 1), "standard")],
            datetime.now(ZoneInfo("UTC")),
        )
    finally:
        store.close()


def _plan(*items: tuple[int, str]) -> dict[str, Any]:
    return {"kind": "plan", "instalments": [{"due": _day(d), "amount": a} for d, a in items]}


async def test_a_plan_is_made_listed_paid_and_cancelled(api: Api) -> None:
    _case(api)
    status, made = await api.call(
        "POST", "/v1/cases/C1/arrangements", json=_plan((5, "100.00"), (12, "100.00"))
    )
    assert status == 201, made
    assert made["case"]["state"] == "plan" and made["arrangement"]["state"] == "active"
    status, paid = await api.call(
        "POST",
        "/v1/cases/C1/payments",
        json={"amount": "100.00", "date": _day(0), "reference": "bank-1"},
    )
    assert status == 200 and paid["settled"] == [1] and paid["balance"] == "200.00"
    status, again = await api.call(
        "POST",
        "/v1/cases/C1/payments",
        json={"amount": "100.00", "date": _day(0), "reference": "bank-1"},
    )
    assert status == 200 and again["duplicate"] and again["balance"] == "200.00"
    status, cancelled = await api.call(
        "POST", "/v1/cases/C1/arrangements:cancel", json={"reason": "the person asked"}
    )
    assert status == 200, cancelled
    status, detail = await api.call("GET", "/v1/cases/C1", token="reader")
    assert status == 200
    [shown] = detail["arrangements"]
    assert (shown["state"], shown["reason"]) == ("cancelled", "the person asked")
    assert [(i["amount"], i["paid"]) for i in shown["instalments"]] == [
        ("100.00", "100.00"),
        ("100.00", "0"),
    ]
    assert cancelled["arrangement"]["state"] == "cancelled"
    assert cancelled["case"]["state"] == "open"
    status, listed = await api.call("GET", "/v1/cases/C1/arrangements", token="reader")
    assert status == 200
    [only] = listed["arrangements"]
    assert (only["state"], only["reason"]) == ("cancelled", "the person asked")
    status, problem = await api.call(
        "POST", "/v1/cases/C1/arrangements:cancel", json={"reason": "again"}
    )
    assert status == 409 and "no active arrangement" in problem["detail"]


async def test_a_disputed_or_ceased_case_is_a_409_with_the_reason(api: Api) -> None:
    _case(api)
    for event, words in (
        ("dispute", "the debt is disputed: no arrangement until the dispute is resolved"),
        ("cease", "the person asked us to cease communication"),
    ):
        status, _ = await api.call("POST", "/v1/cases/C1/events", json={"kind": event})
        assert status == 200
        body = {"kind": "promise", "amount": "100.00", "date": _day(3)}
        status, problem = await api.call("POST", "/v1/cases/C1/arrangements", json=body)
        assert status == 409, problem
        assert words in problem["detail"]
    status, listed = await api.call("GET", "/v1/cases/C1/arrangements", token="reader")
    assert listed["arrangements"] == []


async def test_terms_out_of_bounds_are_a_422_naming_field_and_value(api: Api) -> None:
    _case(api)
    plan = _plan((-1, "100.00"), (3, "0.00"), (400, "50.00"))
    status, problem = await api.call("POST", "/v1/cases/C1/arrangements", json=plan)
    assert status == 422, problem
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    yesterday, _, far = (item["due"] for item in plan["instalments"])
    today = date.fromisoformat(yesterday) + timedelta(days=1)
    assert errors["instalments[0].due"] == f"{yesterday} is before today ({today})"
    assert errors["instalments[1].amount"] == "0.00 must be more than 0"
    last = (today + timedelta(days=365)).isoformat()
    assert errors["instalments[2].due"].startswith(f"{far} is after {last}")
    status, problem = await api.call(
        "POST",
        "/v1/cases/C1/arrangements",
        json={"kind": "promise", "amount": "12.345", "date": _day(3)},
    )
    assert status == 422
    assert problem["errors"] == [
        {"field": "amount", "message": "12.345 has more than 2 decimal places"}
    ]
    status, problem = await api.call(
        "POST", "/v1/cases/C1/arrangements", json={"kind": "promise", "amount": "-5"}
    )
    assert status == 422 and "amount" in {e["field"] for e in problem["errors"]}
    status, problem = await api.call(
        "POST", "/v1/cases/C1/arrangements", json=_plan((3, "200.00"), (10, "200.00"))
    )
    assert status == 422
    assert "the instalments total 400.00, more than the balance 300.00" in problem["detail"]
    status, problem = await api.call(
        "POST",
        "/v1/cases/C1/payments",
        json={"amount": "0.00", "date": _day(0), "reference": "x"},
    )
    assert status == 422
    assert problem["errors"] == [{"field": "amount", "message": "0.00 must be more than 0"}]
    status, problem = await api.call(
        "POST",
        "/v1/cases/NOPE/payments",
        json={"amount": "1.00", "date": _day(0), "reference": "x"},
    )
    assert status == 404


def test_the_openapi_document_has_the_arrangement_operations() -> None:
    paths = document()["paths"]
    assert set(paths["/v1/cases/{case_id}/arrangements"]) == {"get", "post"}
    assert "409" in paths["/v1/cases/{case_id}/arrangements"]["post"]["responses"]
    assert "post" in paths["/v1/cases/{case_id}/arrangements:cancel"]
    assert "post" in paths["/v1/cases/{case_id}/payments"]
