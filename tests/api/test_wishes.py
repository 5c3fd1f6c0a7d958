"""``/v1/people/{person_id}/wishes`` through the daemon's app over a real SQLite store: set,
read back, replaced as a whole, unknown people and channels and wishes that allow or restrict
nothing refused with the field and the value."""

from __future__ import annotations

from tests.api.conftest import Api

ANA = {"name": "Ana Lima", "timezone": "America/Sao_Paulo", "phones": ["+5511987654321"]}
WISHES = {
    "refused": ["sms"],
    "hours": [
        {"kind": "not_before", "at": "10:00", "channel": "voice"},
        {"kind": "not_between", "at": "12:00", "until": "14:00", "days": ["sat", "sun"]},
    ],
    "language": "zh-CN",
}


async def test_wishes_are_set_read_and_replaced(api: Api) -> None:
    await api.call("PUT", "/v1/people/P-ana", json=ANA)
    status, body = await api.call("PUT", "/v1/people/P-ana/wishes", json=WISHES)
    assert status == 200 and body["changed"] is True
    wishes = body["wishes"]
    assert wishes["refused"] == ["sms"] and wishes["language"] == "zh-CN"
    assert wishes["source"] == "api:writer" and wishes["set_at"]
    assert [h["text"] for h in wishes["hours"]] == [
        "no voice before 10:00",
        "no contact between 12:00 and 14:00 on Sat, Sun",
    ]
    assert wishes["hours"][1]["days"] == ["sat", "sun"]
    status, again = await api.call("PUT", "/v1/people/P-ana/wishes", json=WISHES)
    assert (status, again["changed"]) == (200, False)
    status, read = await api.call("GET", "/v1/people/P-ana/wishes", token="reader")
    assert status == 200 and read == wishes
    person = api.dep.store().get_person("P-ana")
    assert person.template_locale == "zh-CN"
    status, body = await api.call("PUT", "/v1/people/P-ana/wishes", json={"refused": ["email"]})
    assert status == 200 and body["wishes"]["hours"] == [] and body["wishes"]["language"] is None


async def test_bad_wishes_name_the_field_and_the_value(api: Api) -> None:
    await api.call("PUT", "/v1/people/P-ana", json=ANA)
    cases = [
        ({"refused": ["pigeon"]}, "refused[0]", "unknown channel 'pigeon'"),
        (
            {"hours": [{"kind": "not_before", "at": "10:00", "channel": "fax"}]},
            "hours[0].channel",
            "unknown channel 'fax'",
        ),
        ({"hours": [{"kind": "not_before", "at": "25:00"}]}, "hours[0].at", "'25:00'"),
        ({"hours": [{"kind": "not_after", "at": "00:00"}]}, "hours[0]", "refuse the channel"),
        ({"hours": [{"kind": "not_between", "at": "09:00"}]}, "hours[0]", "needs two times"),
        ({"hours": [{"kind": "never", "at": "09:00"}]}, "hours[0].kind", "'never'"),
        (
            {"hours": [{"kind": "not_before", "at": "09:00", "days": ["funday"]}]},
            "hours[0].days[0]",
            "'funday'",
        ),
        ({"language": "Chinese"}, "language", "'Chinese'"),
    ]
    for body, field, fragment in cases:
        status, problem = await api.call("PUT", "/v1/people/P-ana/wishes", json=body)
        assert status == 422, (body, problem)
        errors = {e["field"]: e["message"] for e in problem["errors"]}
        assert field in errors and fragment in errors[field], (body, errors)
    assert not api.dep.store().get_person("P-ana").wishes


async def test_wishes_of_an_unknown_person_are_a_404(api: Api) -> None:
    status, problem = await api.call("PUT", "/v1/people/P-none/wishes", json=WISHES)
    assert status == 404 and "P-none" in problem["detail"]
    status, problem = await api.call("GET", "/v1/people/P-none/wishes", token="reader")
    assert status == 404


async def test_a_read_token_may_not_set_wishes(api: Api) -> None:
    await api.call("PUT", "/v1/people/P-ana", json=ANA)
    status, _ = await api.call("PUT", "/v1/people/P-ana/wishes", token="reader", json=WISHES)
    assert status == 403
