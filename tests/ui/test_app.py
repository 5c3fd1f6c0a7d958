"""The console over a real loopback server and a real SQLite store: the login (tokens,
scopes, CSRF, the cookie), the overview's numbers against the store's status (what
``dispatcher status`` prints), resolving unknown attempts, a case, the policy, and the
language."""

from __future__ import annotations

from datetime import UTC, datetime, time

import aiohttp

from dispatcher.model import HourWish, Wishes
from tests.conftest import Deployment
from tests.ui.busy_store import fill
from tests.ui.conftest import Served, csrf_of, jar, login


async def test_root_redirects_and_pages_need_a_login(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.get(f"{served.base}/", allow_redirects=False) as answer:
            assert (answer.status, answer.headers["Location"]) == (302, "/ui/")
        for path in ("/ui/", "/ui/case?id=C1", "/ui/policy"):
            async with http.get(f"{served.base}{path}", allow_redirects=False) as answer:
                assert (answer.status, answer.headers["Location"]) == (303, "/ui/login")
        async with http.get(f"{served.base}/ui/overview.json") as answer:
            assert answer.status == 401


async def test_a_login_sets_a_strict_session_cookie_never_the_token(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        answer = await login(http, served.base, "reader")
        assert (answer.status, answer.headers["Location"]) == (303, "/ui/")
        cookie = next(v for v in answer.headers.getall("Set-Cookie") if "dispatcher_session=" in v)
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui/" in cookie
        assert "Secure" not in cookie  # plain HTTP here
        assert served.dep and "r-2222" not in cookie
        async with http.get(f"{served.base}/ui/") as page:
            assert page.status == 200
            text = await page.text()
            assert "Content-Security-Policy" in page.headers
        assert 'id="who">reader<' in text
        await http.post(f"{served.base}/ui/logout", data={"csrf": csrf_of(text)})
        async with http.get(f"{served.base}/ui/", allow_redirects=False) as again:
            assert again.status == 303


async def test_bad_tokens_and_forms_are_refused(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.get(f"{served.base}/ui/login") as page:
            csrf = csrf_of(await page.text())
        for data, status in (
            ({"csrf": csrf, "token": "nope"}, 401),
            ({"csrf": "forged" * 8, "token": "x"}, 403),
            ({"csrf": csrf, "token": "w-" + "1" * 30}, 403),  # write only: no read
        ):
            async with http.post(f"{served.base}/ui/login", data=data) as answer:
                assert answer.status == status, data
        await login(http, served.base, "officer")
        async with http.post(
            f"{served.base}/ui/unknown/resolve", data={"channel": "sms", "reason": "x"}
        ) as answer:
            assert answer.status == 403  # no CSRF value


def promise(dep: Deployment, case_id: str) -> None:
    """A promise to pay the case's balance in a week, made as the API makes one."""
    from datetime import timedelta

    from dispatcher.config import load_config
    from dispatcher.planner.arrangements import make_arrangement
    from dispatcher.policy.arrangements import Proposed

    now = datetime.now(UTC)
    store = dep.store()
    try:
        balance = store.balance(case_id)
        terms = [Proposed((now + timedelta(days=7)).date(), balance)]
        make_arrangement(
            store, load_config(dep.config), case_id, "promise", terms, now=now, source="test"
        )
    finally:
        store.close()


def status_counts(served: Served) -> dict[str, object]:
    """What ``dispatcher status`` prints, from the same store report, in the JSON's shape."""
    from datetime import UTC, datetime

    store = served.dep.store()
    try:
        report = store.status(datetime.now(UTC))
        arrangements = dict(sorted(store.arrangement_counts().items()))
    finally:
        store.close()
    reminders: dict[str, dict[str, int]] = {}
    for state, channel, n in report.by_state_channel:
        reminders.setdefault(state, {})[channel] = n
    return {
        "reminders": reminders,
        "due_now": report.due_now,
        "pending_by_reason": dict(report.deferred_by_reason),
        "failures": [{"channel": c, "code": k, "attempts": n} for c, k, n in report.failures],
        "unknown_total": report.unknown_total,
        "unknown_by_channel": report.unknown_by_channel,
        "arrangements": arrangements,
    }


async def test_the_overview_agrees_with_status_on_every_count(served: Served) -> None:
    fill(served.dep)
    promise(served.dep, "C3")
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        async with http.get(f"{served.base}/ui/overview.json") as answer:
            assert answer.status == 200
            body = await answer.json()
    counts = body["counts"]
    expected = status_counts(served)
    assert {key: counts[key] for key in expected} == expected
    # Everything the fill made is there: sends of each outcome, deferrals, suppressions.
    assert counts["reminders"]["delivered"] == {"sms": 4, "email": 4}
    assert counts["reminders"]["suppressed"] == {"sms": 2, "email": 2}
    assert counts["pending_by_reason"] == {"quiet_hours": 8, "limit_day": 4, "retry:30003": 4}
    assert counts["unknown_by_channel"] == {"email": 2, "sms": 2}
    assert counts["last_24h"] == {
        "send": {"sms": 10, "email": 10},
        "defer": {"sms": 4, "email": 4},
        "suppress": {"sms": 2, "email": 2},
    }
    # Successes and failures at the same instant: no failure is newer, so the channel is up.
    assert counts["channels"]["sms"]["state"] == "up"
    assert counts["reload"]["reloads"] == 0 and counts["nodes"] is None
    assert counts["arrangements"] == {"active": 1}
    # The page shows the same numbers, and masks addresses for a read token.
    fragment = body["fragment"]
    assert 'data-count="reminders/delivered/sms">4<' in fragment
    assert 'data-count="unknown_total">4<' in fragment
    assert 'data-count="arrangements/active">1<' in fragment
    assert fragment.count('class="bar"') >= 6
    assert "+86138" not in fragment.replace("+86138******", "")
    assert "/ui/unknown/resolve" not in fragment  # a reader may not resolve


async def test_a_writer_resolves_the_unknown_attempts_of_a_channel(served: Served) -> None:
    fill(served.dep)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "officer")
        async with http.get(f"{served.base}/ui/") as page:
            text = await page.text()
        assert "/ui/unknown/resolve" in text
        form = {"csrf": csrf_of(text), "channel": "sms", "resolution": "sent", "reason": "seen"}
        async with http.post(f"{served.base}/ui/unknown/resolve", data=form) as answer:
            assert answer.status == 200 and str(answer.url).endswith("?resolved=2")
        bad = {**form, "resolution": "maybe", "reason": ""}
        async with http.post(f"{served.base}/ui/unknown/resolve", data=bad) as answer:
            assert answer.status == 422
            assert "maybe" in await answer.text()
    assert served.daemon.store.unknown_counts() == {"email": 2}


async def test_a_case_shows_its_state_events_reminders_and_timeline(served: Served) -> None:
    fill(served.dep)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            assert page.status == 200
            text = await page.text()
        assert 'id="case-state">open<' in text and 'id="breathing-space"' not in text
        assert "decision send" in text and "attempt unknown" in text
        assert "P. 3" in text and "Person 3" not in text  # masked for a read token
        async with http.get(f"{served.base}/ui/case", params={"id": "C404"}) as page:
            assert page.status == 404
        async with http.get(f"{served.base}/ui/case", params={"id": "<b>x"}) as page:
            assert page.status == 404 and "&lt;b&gt;x" in await page.text()
        await login(http, served.base, "officer")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            assert "Person 3" in await page.text()
        store = served.daemon.store
        store.case_event("C3", "deceased", now=datetime.now(UTC), source="test")
        store.case_event("C3", "breathing-space-crisis", now=datetime.now(UTC), source="test")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            text = await page.text()
        assert 'id="case-state">deceased<' in text
        assert "a mental-health crisis breathing space since" in text


async def test_a_case_shows_the_persons_wishes_and_consents_masked_as_the_page(
    served: Served,
) -> None:
    fill(served.dep)
    store, now = served.daemon.store, datetime.now(UTC)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            text = await page.text()
        assert 'id="wishes-none"' in text and 'id="consents">none<' in text
        wishes = Wishes(
            ("sms",),
            (HourWish("not_between", time(9), time(17), "voice", frozenset(range(5))),),
            "zh-CN",
        )
        store.set_wishes("P3", wishes, now=now, source="api:crm")
        store.consent("P3", "email", "p3@example.com", now=now, source="test")
        store.consent("P3", "sms", None, now=now, source="test")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            assert page.status == 200
            text = await page.text()
        assert 'id="wishes-refused">sms<' in text
        assert 'id="wishes-hours">no voice between 09:00 and 17:00 on Mon–Fri<' in text
        assert 'id="wishes-language">zh-CN<' in text
        assert "by api:crm" in text and 'id="wishes-none"' not in text
        consents = text.split('id="consents">', 1)[1].split("<", 1)[0]
        assert "email " in consents and "sms" in consents
        assert "p3@example.com" not in text  # masked for a read token, as the contacts are
        await login(http, served.base, "officer")
        async with http.get(f"{served.base}/ui/case", params={"id": "C3"}) as page:
            text = await page.text()
        assert "email p3@example.com" in text.split('id="consents">', 1)[1].split("<", 1)[0]


async def test_the_policy_page_shows_rules_with_layers_and_week_grids(served: Served) -> None:
    served.dep.write(
        "policy.toml",
        'preset = "cn"\njitter = "0s"\n\n[[windows]]\nname = "sms-day"\nchannels = ["sms"]\n'
        'from = "09:00"\nto = "18:00"\n',
    )
    from dispatcher.runtime import load_runtime

    served.daemon.runtime = load_runtime(served.dep.config)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        async with http.get(f"{served.base}/ui/policy", params={"zone": "Asia/Shanghai"}) as page:
            assert page.status == 200
            text = await page.text()
        assert "preset cn:" in text and "policy.toml: windows.sms-day" in text
        assert text.count('class="cell open"') >= 9 * 7
        async with http.get(f"{served.base}/ui/policy", params={"zone": "Mars/Base"}) as page:
            assert page.status == 400 and "Mars/Base" in await page.text()


async def test_the_language_follows_the_browser_then_the_switch(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
        async with http.get(f"{served.base}/ui/login", headers=zh) as page:
            assert '<html lang="zh-CN">' in await page.text()
        async with http.get(f"{served.base}/ui/lang?to=en&next=/ui/login", headers=zh) as page:
            assert '<html lang="en">' in await page.text()
        async with http.get(
            f"{served.base}/ui/lang?to=zh-CN&next=//evil.example/", allow_redirects=False
        ) as answer:
            assert answer.headers["Location"] == "/ui/"
