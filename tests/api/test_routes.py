"""The /v1/ routes through a real loopback server over a real SQLite store: upserts, batch,
events, the case view, reminder pages, validation, body limits and idempotency."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.api.conftest import Api
from tests.conftest import seed

ANA = {
    "name": "Ana Lima",
    "locale": "en",
    "timezone": "America/Sao_Paulo",
    "phones": ["+5511987654321"],
    "emails": ["ana@example.com"],
}
CASE = {
    "person_id": "P-ana",
    "amount": "120.50",
    "currency": "BRL",
    "due_date": "2026-01-15",
    "schedule": "standard",
}


async def test_people_and_cases_are_upserted(api: Api) -> None:
    status, body = await api.call("PUT", "/v1/people/P-ana", json=ANA)
    assert (status, body["created"]) == (201, True)
    assert body["person"]["name"] == "A. L.", "a write token sees masked personal data"
    assert {c["value"] for c in body["person"]["contacts"]} == {
        "+***********21",
        "a***@example.com",
    }
    status, body = await api.call("PUT", "/v1/people/P-ana", json={**ANA, "locale": "zh-CN"})
    assert (status, body["person"]["locale"]) == (200, "zh-CN")

    status, body = await api.call("PUT", "/v1/cases/C-ana", json=CASE)
    assert (status, body["case"]["state"], body["case"]["amount"]) == (201, "open", "120.50")
    status, body = await api.call("PUT", "/v1/cases/C-ana", json={**CASE, "amount": "99"})
    assert (status, body["created"], body["case"]["amount"]) == (200, False, "99")
    assert api.dep.store().get_case("C-ana").amount == "99"


async def test_invalid_fields_are_named_with_the_reason(api: Api) -> None:
    bad = {**ANA, "phones": ["+1 555"], "timezone": "Mars/Olympus", "shoe_size": 42}
    status, body = await api.call("PUT", "/v1/people/P1", json=bad)
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"shoe_size"}, "unknown fields first"
    bad.pop("shoe_size")
    status, body = await api.call("PUT", "/v1/people/P1", json=bad)
    assert status == 422
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert "not a known time zone" in fields["timezone"] and "Mars/Olympus" in fields["timezone"]
    assert "not a valid phone number" in fields["phones"]
    assert "(got +**55)" in fields["phones"], "the value is shown masked"
    status, body = await api.call("PUT", "/v1/cases/C1", json={**CASE, "person_id": "nobody"})
    assert (status, body["errors"][0]["field"]) == (422, "person_id")
    await api.call("PUT", "/v1/people/P-ana", json=ANA)
    status, body = await api.call("PUT", "/v1/cases/C1", json={**CASE, "schedule": "nope"})
    assert status == 422 and "unknown schedule" in body["errors"][0]["message"]
    status, body = await api.call("PUT", "/v1/cases/C1", data=b"{not json")
    assert (status, body["title"]) == (400, "Bad request")
    status, body = await api.call("PUT", "/v1/cases/bad%20id", json=CASE)
    assert (status, body["errors"][0]["field"]) == (422, "case_id")


async def test_a_batch_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    row = {
        "person_id": "P9",
        "name": "Bo Chen",
        "phone": "+8613800000009",
        "case_id": "C9",
        "amount": "10",
        "currency": "CNY",
        "due_date": "2026-02-01",
        "schedule": "standard",
    }
    rows = [row, {**row, "case_id": "C10", "currency": "yuan"}, row, {**row, "case_id": "C11"}]
    status, body = await api.call("POST", "/v1/cases:batch", json={"rows": rows})
    assert status == 200
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [r["accepted"] for r in body["rows"]] == [True, False, False, True]
    assert body["rows"][1]["errors"][0]["field"] == "currency"
    assert "already given in row 0" in body["rows"][2]["errors"][0]["message"]
    assert api.dep.store().get_case("C11") is not None
    assert api.dep.store().get_case("C10") is None


async def test_events_change_the_case_and_paid_cancels_its_reminders(api: Api) -> None:
    seed(api.dep, 2)
    status, body = await api.call("POST", "/v1/cases/C0/events", json={"kind": "paid"})
    assert (status, body["case"]["state"], body["event"]) == (200, "paid", "paid")
    status, body = await api.call("GET", "/v1/cases/C0", token="reader")
    assert status == 200
    assert body["upcoming"] == [] and body["reminders"][0]["state"] == "cancelled"
    assert any(h["what"] == "event paid" and "api:writer" in h["detail"] for h in body["history"])

    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    status, body = await api.call(
        "POST", "/v1/cases/C1/events", json={"kind": "plan", "until": until, "note": "6 months"}
    )
    assert (status, body["case"]["state"]) == (200, "plan")
    # A pause "until" a date lasts to that date's midnight in the person's zone (Shanghai).
    midnight = datetime.combine(date.fromisoformat(until), time(), ZoneInfo("Asia/Shanghai"))
    assert datetime.fromisoformat(body["case"]["paused_until"]) == midnight
    status, body = await api.call("POST", "/v1/cases/C1/events", json={"kind": "hardship"})
    assert (status, body["errors"][0]["field"]) == (422, "hardship.until")
    status, body = await api.call(
        "POST", "/v1/cases/C1/events", json={"kind": "plan", "until": "2001-01-01"}
    )
    assert (status, body["errors"][0]["field"]) == (422, "until")
    status, _ = await api.call("POST", "/v1/cases/nope/events", json={"kind": "paid"})
    assert status == 404


async def test_a_pause_without_a_real_end_is_a_422_not_a_crash(api: Api) -> None:
    seed(api.dep, 1)
    for until in ("9999-12-31", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00"):
        status, body = await api.call(
            "POST", "/v1/cases/C0/events", json={"kind": "plan", "until": until}
        )
        assert (status, body["errors"][0]["field"]) == (422, "until"), (until, body)
    status, body = await api.call("GET", "/v1/cases/C0", token="reader")
    assert (status, body["case"]["state"], body["case"]["paused_until"]) == (200, "open", None)


async def test_an_opt_out_is_recorded_for_the_person(api: Api) -> None:
    seed(api.dep, 1)
    event = {"kind": "opt-out", "channel": "sms", "contact": "+8613800000000"}
    status, _ = await api.call("POST", "/v1/cases/C0/events", json=event)
    assert status == 200
    assert [(o.channel, o.contact) for o in api.dep.store().get_person("P0").opt_outs] == [
        ("sms", "+8613800000000")
    ]
    status, body = await api.call(
        "POST", "/v1/cases/C0/events", json={"kind": "opt-out", "channel": "pigeon"}
    )
    assert status == 422 and "unknown channel" in body["errors"][0]["message"]


async def test_personal_data_only_with_read_pii(api: Api) -> None:
    seed(api.dep, 1)
    _, masked = await api.call("GET", "/v1/cases/C0", token="reader")
    _, shown = await api.call("GET", "/v1/cases/C0", token="officer")
    assert masked["person"]["name"] == "P. 0." and masked["person"]["masked"] is True
    assert "+8613800000000" not in str(masked)
    assert shown["person"]["name"] == "Person 0" and shown["person"]["masked"] is False
    assert "+8613800000000" in {c["value"] for c in shown["person"]["contacts"]}
    assert "time zone used: Asia/Shanghai" in shown["time_zone"]


async def test_reminders_come_in_pages(api: Api) -> None:
    seed(api.dep, 5)
    seen: list[int] = []
    after = 0
    while True:
        status, page = await api.call(
            "GET", f"/v1/reminders?state=pending&channel=sms&limit=2&after={after}", token="reader"
        )
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(seen) == 5 == len(set(seen))
    status, body = await api.call("GET", "/v1/reminders?limit=0&colour=red", token="reader")
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"limit", "colour"}


async def test_a_body_over_the_limit_is_413(api: Api) -> None:
    api.dep.set("dispatcher.toml", r"^max_body = \d+", "max_body = 2048")
    assert await api.daemon.reload()
    big = {"rows": [{"person_id": "x" * 100}] * 40}
    status, body = await api.call("POST", "/v1/cases:batch", json=big)
    assert status == 413 and "2048 bytes" in body["detail"]


async def test_an_idempotency_key_replays_the_first_answer(api: Api) -> None:
    seed(api.dep, 1)
    key = {"Idempotency-Key": "evt-0001"}
    first = await api.client.post(
        "/v1/cases/C0/events", json={"kind": "dispute"}, headers={**key, **_writer()}
    )
    assert first.status == 200
    api.dep.store().case_event("C0", "resolve", now=datetime.now(UTC), source="test")
    again = await api.client.post(
        "/v1/cases/C0/events", json={"kind": "dispute"}, headers={**key, **_writer()}
    )
    assert again.status == 200 and again.headers["Idempotency-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert api.dep.store().get_case("C0").state == "open", "the replay did not act again"
    other = await api.client.post(
        "/v1/cases/C0/events", json={"kind": "cease"}, headers={**key, **_writer()}
    )
    assert other.status == 409
    assert "different request" in (await other.json())["detail"]


async def test_unknown_routes_and_methods_answer_problems_and_are_counted(api: Api) -> None:
    status, body = await api.call("GET", "/v1/nothing-here")
    assert (status, body["status"]) == (404, 404)
    status, body = await api.call("DELETE", "/v1/cases/C0")
    assert status == 405
    await api.call("GET", "/v1/reminders", token="reader")
    metrics = (await (await api.client.get("/metrics")).text()).splitlines()
    assert any(
        line.startswith("dispatcher_api_requests_total{")
        and 'route="/v1/reminders"' in line
        and 'status="200"' in line
        for line in metrics
    )


def _writer() -> dict[str, str]:
    from tests.api.conftest import bearer

    return bearer("writer")
