"""``POST /v1/attempts:resolve`` through a real loopback server over a real SQLite store:
10,000 unknown attempts resolved in one request (a page per store call), the scope, bad
bodies (422, never 5xx), idempotency keys, and a second resolution changing nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from dispatcher.store import schema as t
from tests.api.conftest import Api
from tests.unknown_attempts import make_unknown

PATH = "/v1/attempts:resolve"


def _unknowns(api: Api, count: int, **kwargs: object) -> list[str]:
    store = api.dep.store()
    ids = make_unknown(store, count, **kwargs)  # type: ignore[arg-type]
    store.close()
    return ids


async def test_ten_thousand_are_resolved_in_one_request(api: Api) -> None:
    _unknowns(api, 10_000)
    body = {"resolution": "sent", "all": True, "reason": "provider console shows them"}
    status, answer = await api.call("POST", PATH, json=body)
    assert status == 200, answer
    assert answer == {"resolution": "sent", "resolved": 10_000, "not_unknown": []}
    assert api.daemon.store.unknown_counts() == {}
    with api.daemon.store.engine.connect() as conn:  # type: ignore[attr-defined]
        states = select(func.count()).where(t.reminders.c.state == "sent")
        assert conn.execute(states).scalar_one() == 10_000
        reasons = select(t.decisions.c.reasons).where(t.decisions.c.verdict == "resolved")
        assert "api:writer: provider console shows them" in conn.execute(reasons).scalars().first()
    status, answer = await api.call("POST", PATH, json=body)
    assert (status, answer["resolved"]) == (200, 0)


async def test_given_ids_and_a_channel(api: Api) -> None:
    ids = _unknowns(api, 3)
    _unknowns(api, 2, channel="email", start=3)
    body = {"resolution": "resend", "attempt_ids": [ids[0], "nope"], "reason": "x"}
    status, answer = await api.call("POST", PATH, json=body)
    assert status == 200, answer
    assert (answer["resolved"], answer["not_unknown"]) == (1, ["nope"])
    body = {"resolution": "not_sent", "channel": "email", "reason": "bounced at the relay"}
    status, answer = await api.call("POST", PATH, json=body)
    assert (status, answer["resolved"]) == (200, 2)
    assert api.daemon.store.unknown_counts() == {"sms": 2}


async def test_the_same_key_replays_the_first_answer(api: Api) -> None:
    _unknowns(api, 2)
    body = {"resolution": "sent", "all": True, "reason": "seen"}
    key = {"Idempotency-Key": "resolve-0001"}
    first = await api.call("POST", PATH, json=body, headers=key)
    second = await api.call("POST", PATH, json=body, headers=key)
    assert first == second == (200, {"resolution": "sent", "resolved": 2, "not_unknown": []})
    other = await api.call("POST", PATH, json={**body, "reason": "else"}, headers=key)
    assert other[0] == 409


async def test_bad_bodies_and_scopes_are_refused(api: Api) -> None:
    good = {"resolution": "sent", "all": True, "reason": "seen"}
    assert (await api.call("POST", PATH, json=good, token="reader"))[0] == 403
    assert (await api.call("POST", PATH, json=good, token=None))[0] == 401
    for bad, field in (
        ({**good, "resolution": "maybe"}, "resolution"),
        ({"resolution": "sent", "reason": "seen"}, "attempt_ids"),
        ({**good, "channel": "sms"}, "attempt_ids"),
        ({**good, "all": False, "channel": "fax"}, "channel"),
        ({**good, "reason": ""}, "reason"),
        ({**good, "reason": "   "}, "reason"),
        ({**good, "all": False, "attempt_ids": []}, "attempt_ids"),
        ({**good, "extra": 1}, "extra"),
    ):
        status, answer = await api.call("POST", PATH, json=bad)
        assert status == 422, (bad, answer)
        assert any(e["field"].startswith(field) for e in answer["errors"]), (bad, answer)
