"""A phone number's line through the API: given as ``{"number", "line"}`` or as the text an
import writes (``work:+1…``), returned with the person (also when the number is masked), and
a line that is not one refused with 422 naming the field."""

from __future__ import annotations

from tests.api.conftest import Api

WORK, MOBILE, PLAIN = "+16175550131", "+16175550132", "+16175550133"


def lines_of(body: dict[str, object]) -> list[tuple[int, str | None]]:
    person = body["person"]
    assert isinstance(person, dict)
    return sorted((c["priority"], c["line"]) for c in person["contacts"] if c["kind"] == "phone")


async def test_a_person_put_with_lines_returns_them(api: Api) -> None:
    body = {
        "name": "Ana Lima",
        "phones": [{"number": WORK, "line": "work"}, f"mobile:{MOBILE}", {"number": PLAIN}],
        "emails": ["ana@example.com"],
    }
    status, answer = await api.call("PUT", "/v1/people/P-lines", json=body, token="officer")
    assert status == 201, answer
    assert lines_of(answer) == [(0, "work"), (1, "mobile"), (2, None)]
    contacts = answer["person"]["contacts"]
    assert {c["value"]: c["line"] for c in contacts if c["kind"] == "phone"} == {
        WORK: "work",
        MOBILE: "mobile",
        PLAIN: None,
    }
    assert [c["line"] for c in contacts if c["kind"] == "email"] == [None]

    # Stored as given; a reader without personal data sees the lines beside masked numbers.
    person = api.dep.store().get_person("P-lines")
    assert person is not None
    assert sorted((c.value, c.line) for c in person.contacts if c.line) == [
        (WORK, "work"),
        (MOBILE, "mobile"),
    ]
    body["phones"] = [{"number": WORK, "line": "other"}]
    status, answer = await api.call("PUT", "/v1/people/P-lines", json=body)
    assert status == 200, answer
    assert answer["person"]["masked"] is True
    assert (0, "other") in lines_of(answer)


async def test_a_bad_line_is_refused_naming_the_field(api: Api) -> None:
    bad_object = {"name": "Bo", "phones": [{"number": WORK, "line": "pager"}]}
    status, answer = await api.call("PUT", "/v1/people/P-bad", json=bad_object)
    assert status == 422, answer
    assert answer["errors"][0]["field"].startswith("phones")

    bad_text = {"name": "Bo", "phones": [f"pager:{WORK}"]}
    status, answer = await api.call("PUT", "/v1/people/P-bad", json=bad_text)
    assert status == 422, answer
    assert answer["errors"] == [
        {
            "field": "phones",
            "message": "unknown line type 'pager' before ':' (mobile, residence, work or "
            "other, e.g. work:+16175550123)",
        }
    ]
    assert api.dep.store().get_person("P-bad") is None


async def test_a_batch_row_names_lines_as_an_import_does(api: Api) -> None:
    row = {
        "person_id": "P-batch",
        "name": "Cy",
        "phone": [f"residence:{WORK}"],
        "case_id": "C-batch",
        "amount": "50",
        "currency": "USD",
        "due_date": "2026-10-01",
        "schedule": "standard",
    }
    status, answer = await api.call("POST", "/v1/cases:batch", json={"rows": [row]})
    assert (status, answer["accepted"]) == (200, 1), answer
    person = api.dep.store().get_person("P-batch")
    assert person is not None and [c.line for c in person.contacts] == ["residence"]
