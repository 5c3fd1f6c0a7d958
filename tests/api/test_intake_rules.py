"""The API applies intake's one row validation: time zones, ids and amounts as an import
checks them, and a case never moves to another person through a batch."""

from __future__ import annotations

from tests.api.conftest import Api

ANA = {"name": "Ana Lima", "locale": "en", "phones": ["+5511987654321"]}


def batch_row(person_id: str, case_id: str, **fields: object) -> dict[str, object]:
    return {
        "person_id": person_id,
        "name": "Ana Lima",
        "phone": "+5511987654321",
        "case_id": case_id,
        "amount": "50",
        "currency": "BRL",
        "due_date": "2026-10-01",
        "schedule": "standard",
        **fields,
    }


async def test_a_time_zone_folder_is_refused_with_422(api: Api) -> None:
    for zone in ("America", "Europe/" + "x" * 50):
        status, body = await api.call("PUT", "/v1/people/P-ana", json={**ANA, "timezone": zone})
        assert status == 422, body
        assert body["errors"][0]["field"] == "timezone"
    assert api.dep.store().get_person("P-ana") is None


async def test_a_batch_row_of_another_persons_case_is_refused_and_the_rest_kept(
    api: Api,
) -> None:
    status, body = await api.call(
        "POST", "/v1/cases:batch", json={"rows": [batch_row("P-1", "C-1")]}
    )
    assert (status, body["accepted"]) == (200, 1)

    rows = [
        batch_row("P-2", "C-2"),
        batch_row("P-3", "C-1", amount="1"),
        batch_row("P-4", "C-4", amount="1e999999999999"),
        batch_row("P-5", "C-5"),
    ]
    status, body = await api.call("POST", "/v1/cases:batch", json={"rows": rows})

    assert status == 200
    assert [r["accepted"] for r in body["rows"]] == [True, False, False, True]
    assert "belongs to another person" in body["rows"][1]["errors"][0]["message"]
    assert body["rows"][2]["errors"][0]["field"] == "amount"
    store = api.dep.store()
    case = store.get_case("C-1")
    assert case is not None and (case.person_id, case.amount) == ("P-1", "50")
    assert store.get_person("P-3") is None
    assert store.get_case("C-2") is not None and store.get_case("C-5") is not None


async def test_a_due_date_beyond_the_plannable_years_is_refused_with_422(api: Api) -> None:
    rows = [batch_row("P-1", "C-1"), batch_row("P-2", "C-2", due_date="9999-12-25")]
    status, body = await api.call("POST", "/v1/cases:batch", json={"rows": rows})

    assert status == 200
    assert [r["accepted"] for r in body["rows"]] == [True, False]
    error = body["rows"][1]["errors"][0]
    assert error["field"] == "due_date" and "9999-12-25" in error["message"]
    assert api.dep.store().get_case("C-2") is None
    await api.call("PUT", "/v1/people/P-3", json=ANA)
    case = {"person_id": "P-3", "amount": "5", "currency": "BRL", "due_date": "9999-12-25"}
    status, body = await api.call("PUT", "/v1/cases/C-3", json={**case, "schedule": "standard"})
    assert status == 422 and body["errors"][0]["field"] == "due_date", body
    assert api.dep.store().get_case("C-3") is None


async def test_an_id_with_a_final_newline_is_refused_before_anything_is_written(api: Api) -> None:
    status, body = await api.call("PUT", "/v1/people/P-NL%0A", json=ANA)
    assert status == 422, body
    assert body["errors"][0]["field"] == "person_id"
    assert api.dep.store().get_person("P-NL\n") is None
