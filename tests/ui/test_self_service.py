"""The person's page over the daemon's HTTP app and a real SQLite store: what it shows (and
does not), altered and expired links (403, 410, the same answer for a case that does not
exist), CSRF, the per-link rate limit, malformed forms (4xx, never 5xx), and each action
recorded as the API records it, contact preferences among them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from dispatcher.admin.explain import timeline
from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.links import LinkSigner
from dispatcher.model import ArrangementState, CaseState, HourWish, Instalment, Verdict, Wishes
from tests.conftest import Deployment, shanghai_today
from tests.policy.conftest import DAYTIME, SHANGHAI, codes, decide_at, local, policy
from tests.ui.self_service_setup import (
    PAYMENT_URL,
    SECRET,
    SECRET_ENV,
    add_case,
    configure,
    store_read,
    wishes_in_force,
)


@dataclass
class Page:
    client: TestClient[Any, Any]
    dep: Deployment
    signer: LinkSigner

    def path(self, case_id: str = "C1", last_day: date | None = None) -> str:
        token = self.signer.token(case_id, last_day or date.today() + timedelta(days=30))
        return f"/s/{token}"

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.client.get(path, allow_redirects=False, **kwargs) as answer:
            return answer.status, await answer.text()

    async def post(self, path: str, action: str, data: Any, csrf: bool = True) -> Any:
        if csrf and isinstance(data, dict):
            data = {"csrf": self.signer.csrf(path.removeprefix("/s/")), **data}
        return await self.client.post(f"{path}/{action}", data=data, allow_redirects=False)


@asynccontextmanager
async def serving(dep: Deployment, signer: LinkSigner) -> AsyncIterator[Page]:
    """``dep``'s daemon HTTP app (not the daemon's loop) on a test server, with case C1."""
    daemon = Daemon(dep.config)
    add_case(dep)
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(daemon.metrics, daemon.ready, daemon.core_access()))
    )
    await client.start_server()
    try:
        yield Page(client, dep, signer)
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store_reader.shutdown()
        daemon.store.close()


@pytest.fixture
async def page(open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Page]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    signer = configure(open_deployment, "https://pay.example.com", max_requests=15)
    async with serving(open_deployment, signer) as served:
        yield served


async def test_without_a_usable_secret_the_page_is_off(
    open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    signer = configure(open_deployment, "https://pay.example.com")
    async with serving(open_deployment, signer) as page:
        status, text = await page.get(page.path())
        assert status == 404 and SECRET not in text
        assert (await page.post(page.path(), "dispute", {"note": "x"})).status == 404
    (record,) = [r for r in caplog.records if r.getMessage() == "self-service page off"]
    assert f"environment variable {SECRET_ENV} is not set" in record.fields["reason"]  # type: ignore[attr-defined]


async def test_the_page_shows_the_case_and_nothing_more_personal(page: Page) -> None:
    async with page.client.get(page.path()) as answer:
        assert answer.status == 200
        text = await answer.text()
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert 'id="company">Acme Lending<' in text
    assert 'id="reference">C1<' in text and 'id="balance">300.00 CNY<' in text
    assert 'id="due-date">2026-01-01<' in text and f'href="{PAYMENT_URL}"' in text
    assert "Li Wei" not in text and "8613800138000" not in text and "P1" not in text
    # Every field has its label; every section a heading.
    assert text.count("<label for=") >= text.count('<input type="text"')
    assert '<html lang="en">' in text and "<h1>" in text
    # No script at all, and only the daemon's own stylesheet.
    assert "<script" not in text and 'href="/s/static/self_service.css"' in text
    status, css = await page.get("/s/static/self_service.css")
    assert status == 200 and "outline" in css


async def test_the_page_speaks_the_persons_language_or_the_one_chosen(page: Page) -> None:
    add_case(page.dep, locale="zh-CN")
    status, text = await page.get(page.path())
    assert status == 200 and '<html lang="zh-CN">' in text and "余额" in text
    status, text = await page.get(page.path() + "?lang=en")
    assert status == 200 and '<html lang="en">' in text and "Balance" in text


async def test_altered_unknown_and_expired_links_are_refused(page: Page) -> None:
    good = page.path()
    case, day, tag = good.removeprefix("/s/").split(".")
    status, altered = await page.get(f"/s/{case}.{int(day) + 1}.{tag}")
    assert status == 403
    status, forged = await page.get(f"/s/{case}.{day}.{'A' * len(tag)}")
    assert status == 403
    # A properly signed link to a case that does not exist answers exactly as an altered one.
    status, unknown = await page.get(page.path("C-NOT-THERE"))
    assert status == 403 and unknown == altered == forged
    for bad in ("/s/x", "/s/" + "A" * 3000, "/s/%00", "/s/a.b.c"):
        assert (await page.get(bad))[0] == 403, bad
    status, text = await page.get(page.path(last_day=date.today() - timedelta(days=1)))
    assert status == 410 and "expired" in text
    # Expired or altered, a form is refused too and nothing changes.
    answer = await page.post(
        page.path(last_day=date.today() - timedelta(days=1)), "dispute", {"note": "x"}
    )
    assert answer.status == 410
    answer = await page.post(f"/s/{case}.{int(day) + 1}.{tag}", "dispute", {"note": "x"})
    assert answer.status == 403
    assert store_read(page.dep, "get_case", "C1").state is CaseState.OPEN


async def test_a_form_without_the_links_csrf_value_is_refused(page: Page) -> None:
    path = page.path()
    other = page.path("C2")
    for data in ({}, {"csrf": ""}, {"csrf": page.signer.csrf(other.removeprefix("/s/"))}):
        answer = await page.post(path, "dispute", {**data, "note": "x"}, csrf=False)
        assert answer.status == 403, data
    assert store_read(page.dep, "get_case", "C1").state is CaseState.OPEN


async def test_each_link_has_its_own_rate_limit(page: Page) -> None:
    path = page.path()
    for _ in range(15):
        assert (await page.get(path))[0] == 200
    status, text = await page.get(path)
    assert status == 429 and "Too many" in text
    assert (await page.post(path, "dispute", {"note": "x"})).status == 429
    # Another link (the same case, another day) is counted on its own.
    assert (await page.get(page.path(last_day=date.today() + timedelta(days=29))))[0] == 200


async def test_malformed_forms_are_4xx_never_5xx(page: Page) -> None:
    path = page.path()
    for action, data in (
        ("plan", {"count": "abc", "first": shanghai_today().isoformat(), "every": "month"}),
        ("plan", {"count": "0", "first": shanghai_today().isoformat(), "every": "month"}),
        ("plan", {"count": "99999999999999999999", "first": "x", "every": "month"}),
        ("plan", {"count": "3", "first": "2026-02-30", "every": "month"}),
        ("plan", {"count": "3", "first": shanghai_today().isoformat(), "every": "year"}),
        ("plan", {}),
        ("promise", {"date": "tomorrow"}),
        ("promise", {"date": shanghai_today().isoformat(), "amount": "NaN"}),
        ("promise", {"date": shanghai_today().isoformat(), "amount": "-5"}),
        ("opt-out", {}),
        ("opt-out", {"channel_nope": "on"}),
    ):
        answer = await page.post(path, action, data)
        assert answer.status == 422, (action, data, answer.status)
        assert "Please check the form" in await answer.text()
    answer = await page.post(path, "plan", {"count": "x", "first": "y", "every": "month"})
    text = await answer.text()
    assert "<li>Number of instalments: is not a whole number from 1 to 60</li>" in text
    assert "<li>First payment on (YYYY-MM-DD): is not a date (YYYY-MM-DD)</li>" in text
    assert 'placeholder="YYYY-MM-DD" required value="y"' in text  # the form given back
    assert (await page.post(path, "cancel-everything", {})).status == 404
    assert (await page.post(path, "plan", {"note": "x" * 20_000})).status == 413
    raw = b"\xff\xfe" * 10
    answer = await page.client.post(
        f"{path}/dispute",
        data=raw,
        headers={"Content-Type": "multipart/form-data; boundary=zz"},
        allow_redirects=False,
    )
    assert 400 <= answer.status < 500
    form = FormData()
    form.add_field("csrf", page.signer.csrf(path.removeprefix("/s/")))
    form.add_field("note", b"\x00\x01", filename="x.bin")
    answer = await page.client.post(f"{path}/dispute", data=form, allow_redirects=False)
    assert answer.status == 303  # a file where a note was: no note, the dispute recorded
    answer = await page.client.post(
        f"{path}/dispute",
        data=b"csrf=%ff%fe&note=%ff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert answer.status == 403  # bytes that are no text: no CSRF value
    assert (await page.get(f"{path}/plan"))[0] in (404, 405)
    assert store_read(page.dep, "arrangements_of", "C1") == []


async def test_a_plan_within_the_bounds_is_made_beyond_them_a_request(page: Page) -> None:
    path = page.path()
    first = (shanghai_today() + timedelta(days=3)).isoformat()
    answer = await page.post(path, "plan", {"count": "24", "first": first, "every": "month"})
    assert answer.status == 303 and "done=done_request" in answer.headers["Location"]
    assert store_read(page.dep, "arrangements_of", "C1") == []
    (request,) = store_read(page.dep, "arrangement_requests", datetime(2000, 1, 1, tzinfo=UTC))
    assert request.case_id == "C1" and request.source == "self-service"
    history = store_read(page.dep, "case_history", "C1")
    story = [f"{what} {detail}" for _, _, what, detail in timeline(history)]
    assert (
        "event arrangement_request by self-service: plan proposed on the person's page: "
        "12.50 CNY by " in story[-1]
    ), story  # what explain and the console's case page show
    assert "24 instalments: at most 12 allowed" in request.detail
    answer = await page.post(path, "plan", {"count": "3", "first": first, "every": "month"})
    assert answer.status == 303 and "done=done_plan" in answer.headers["Location"]
    (made,) = store_read(page.dep, "arrangements_of", "C1")
    assert made.state is ArrangementState.ACTIVE and made.kind == "plan"
    assert [str(i.amount) for i in made.instalments] == ["100.00", "100.00", "100.00"]
    assert store_read(page.dep, "get_case", "C1").state is CaseState.PLAN
    status, text = await page.get(answer.headers["Location"])
    assert status == 200 and "instalment plan is confirmed" in text and 'id="arrangement"' in text
    assert 'id="plan-submit"' not in text  # one arrangement at a time
    # Each instalment with what is due and what is paid of it, both as money.
    assert text.count('<td class="n">100.00 CNY</td><td class="n">0.00 CNY</td>') == 3
    # A second plan on top of the active one is refused, not recorded.
    answer = await page.post(path, "promise", {"date": first})
    assert answer.status == 409


async def test_hardship_a_promise_a_dispute_and_opt_outs_are_recorded(page: Page) -> None:
    path = page.path()
    answer = await page.post(path, "hardship", {"note": "lost my job"})
    assert answer.status == 303 and "done=done_hardship" in answer.headers["Location"]
    case = store_read(page.dep, "get_case", "C1")
    assert case.state is CaseState.HARDSHIP and case.paused_until is not None
    answer = await page.post(
        path, "promise", {"date": (shanghai_today() + timedelta(days=7)).isoformat()}
    )
    assert answer.status == 303 and "done=done_promise" in answer.headers["Location"]
    (promise,) = store_read(page.dep, "arrangements_of", "C1")
    assert promise.kind == "promise" and str(promise.instalments[0].amount) == "300.00"
    answer = await page.post(path, "opt-out", {"channel_sms": "on", "channel_email": "on"})
    assert answer.status == 303
    person = store_read(page.dep, "get_person", "P1")
    assert {(o.channel, o.contact) for o in person.opt_outs} == {("sms", None), ("email", None)}
    status, text = await page.get(path)
    assert 'id="channel-sms" name="channel_sms" value="on" checked disabled' in text
    answer = await page.post(path, "dispute", {"note": "not my loan"})
    assert answer.status == 303
    assert store_read(page.dep, "get_case", "C1").state is CaseState.DISPUTED
    history = store_read(page.dep, "case_history", "C1")
    sources = {e["kind"]: e["source"] for e in history.events}
    assert sources["dispute"] == "self-service" and sources["hardship"] == "self-service"
    assert sources["arrangement"] == "self-service"


async def test_after_max_broken_arrangements_a_plan_becomes_a_request(page: Page) -> None:
    now = datetime.now(UTC)
    store = page.dep.store()
    try:
        for _ in range(2):  # policy.toml's max_broken
            store.add_arrangement(
                "C1",
                "promise",
                [Instalment(1, shanghai_today(), Decimal("300.00"), deadline=now)],
                lambda _: [],
                lambda *_: None,
                now=now,
                source="test",
            )
            store.break_overdue_arrangements(now + timedelta(days=1), now, None)
    finally:
        store.close()
    first = (shanghai_today() + timedelta(days=3)).isoformat()
    answer = await page.post(page.path(), "plan", {"count": "3", "first": first, "every": "month"})
    assert answer.status == 303 and "done=done_request" in answer.headers["Location"]
    (request,) = store_read(page.dep, "arrangement_requests", now - timedelta(minutes=1))
    assert "2 broken arrangements (max_broken 2)" in request.detail
    states = [a.state for a in store_read(page.dep, "arrangements_of", "C1")]
    assert states == [ArrangementState.BROKEN] * 2


async def test_a_report_that_would_lift_a_hold_is_left_to_the_team(page: Page) -> None:
    path = page.path()
    assert (await page.post(path, "dispute", {"note": "not mine"})).status == 303
    # Hardship over a dispute would end in contact when its pause ends: refused.
    answer = await page.post(path, "hardship", {"note": "x"})
    assert answer.status == 409 and "Please contact us" in await answer.text()
    assert store_read(page.dep, "get_case", "C1").state is CaseState.DISPUTED
    status, text = await page.get(path)
    assert 'id="hardship-submit"' not in text and 'id="dispute-submit"' in text
    assert 'id="plan-submit"' not in text  # no arrangement on a disputed debt
    store = page.dep.store()
    try:
        store.case_event("C1", "cease", now=datetime.now(UTC), source="test")
    finally:
        store.close()
    # A dispute on a ceased case would reopen it once resolved: refused too.
    assert (await page.post(path, "dispute", {"note": "x"})).status == 409
    assert store_read(page.dep, "get_case", "C1").state is CaseState.CEASED


TEAMS_WISH = HourWish("not_between", time(9), time(17), "voice", frozenset(range(5)))


async def test_contact_preferences_become_the_persons_wishes(page: Page) -> None:
    store = page.dep.store()
    try:  # a wish the form cannot show (one channel, some days), set by the team
        store.set_wishes("P1", Wishes(hours=(TEAMS_WISH,)), now=datetime.now(UTC), source="cli")
    finally:
        store.close()
    path = page.path()
    status, text = await page.get(path)
    assert status == 200 and '<h2 id="prefs-heading">Contact preferences</h2>' in text
    assert 'name="refuse_sms" value="on">' in text and '<option value="" selected>' in text
    asked = {"refuse_sms": "on", "not_before": "09:30", "not_after": "20:00", "language": "zh-CN"}
    answer = await page.post(path, "preferences", asked)
    assert answer.status == 303 and "done=done_preferences" in answer.headers["Location"]
    wishes = wishes_in_force(page.dep)
    assert wishes.refused == ("sms",) and wishes.language == "zh-CN"
    assert set(wishes.hours) == {
        TEAMS_WISH,
        HourWish("not_before", time(9, 30)),
        HourWish("not_after", time(20)),
    }
    assert wishes.source == "self-service"
    history = store_read(page.dep, "case_history", "C1")
    story = [f"{what} {detail}" for _, _, what, detail in timeline(history)]
    assert (
        "event wishes by self-service: refused sms; no voice between 09:00 and 17:00 on "
        "Mon–Fri; no contact before 09:30; no contact after 20:00; language zh-CN"
    ) in story, story
    # The page now speaks the language chosen and shows the wishes in force.
    status, text = await page.get(path)
    assert '<html lang="zh-CN">' in text and "联系偏好" in text
    assert 'name="refuse_sms" value="on" checked>' in text
    assert (
        'name="not_before" inputmode="numeric" autocomplete="off" placeholder="HH:MM" value="09:30"'
        in text
    )
    assert '<option value="zh-CN" selected>' in text
    # Saved unchanged, nothing new is recorded.
    assert (await page.post(path, "preferences", asked)).status == 303
    assert len(store_read(page.dep, "case_history", "C1").wishes) == 2
    # The refused channel is suppressed by the policy, with the reason preference.
    person = store_read(page.dep, "get_person", "P1")
    sms = decide_at(policy(windows=[DAYTIME]), local(SHANGHAI, 2026, 6, 10, 12), person=person)
    assert sms.verdict is Verdict.SUPPRESS and codes(sms) == ["preference"]
    assert "the person refused sms" in sms.reasons[0].text and "self-service" in sms.reasons[0].text
    # An empty form clears what it manages and keeps the team's wish.
    assert (await page.post(path, "preferences", {"language": ""})).status == 303
    assert wishes_in_force(page.dep) == Wishes(hours=(TEAMS_WISH,))


async def test_bad_preferences_are_refused_naming_the_field(page: Page) -> None:
    path = page.path()
    for data, problem in (
        ({"not_before": "25:00"}, "<li>Not before (HH:MM): is not a time of day HH:MM"),
        ({"not_before": "9.30"}, "<li>Not before (HH:MM): is not a time of day HH:MM"),
        ({"not_after": "00:00"}, "<li>Not after (HH:MM): is not a time of day HH:MM"),
        ({"not_before": "00:00"}, "<li>Not before (HH:MM): is not a time of day HH:MM"),
        (
            {"not_before": "18:00", "not_after": "09:00"},
            "<li>Not after (HH:MM): must be later than the “not before” time</li>",
        ),
        (
            {"not_before": "10:00", "not_after": "10:00"},
            "<li>Not after (HH:MM): must be later than the “not before” time</li>",
        ),
        ({"language": "fr"}, "<li>Language to write to me in: is not one of the choices</li>"),
        ({"not_before": "x" * 5000}, "<li>Not before (HH:MM): is not a time of day HH:MM"),
    ):
        answer = await page.post(path, "preferences", data)
        assert answer.status == 422, (data, answer.status)
        assert problem in await answer.text(), data
    # The form is given back as it was sent, for the person to correct.
    answer = await page.post(
        path, "preferences", {"refuse_voice": "on", "not_before": "25:00", "not_after": "21:00"}
    )
    text = await answer.text()
    assert answer.status == 422 and 'name="refuse_voice" value="on" checked>' in text
    assert (
        'placeholder="HH:MM" value="25:00"' in text and 'placeholder="HH:MM" value="21:00"' in text
    )
    assert 'name="refuse_sms" value="on">' in text
    # Without the link's CSRF value nothing is recorded.
    answer = await page.post(path, "preferences", {"refuse_sms": "on"}, csrf=False)
    assert answer.status == 403
    assert not wishes_in_force(page.dep)
    assert store_read(page.dep, "case_history", "C1").wishes == []


async def test_wishes_the_form_cannot_show_are_kept(page: Page) -> None:
    store = page.dep.store()
    try:  # a channel no longer configured, a language other than the page's
        store.set_wishes("P1", Wishes(("pigeon",), (), "fr"), now=datetime.now(UTC), source="cli")
    finally:
        store.close()
    path = page.path()
    status, text = await page.get(path + "?lang=en")
    assert status == 200 and '<option value="fr" selected>fr</option>' in text
    answer = await page.post(path, "preferences", {"refuse_sms": "on", "language": "fr"})
    assert answer.status == 303
    assert wishes_in_force(page.dep) == Wishes(("sms", "pigeon"), (), "fr")
