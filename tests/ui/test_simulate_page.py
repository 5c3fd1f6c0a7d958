"""The simulate page over a real loopback server and a real SQLite store: chosen cases run
in virtual time with the config in force, the report drawn as the command's --html draws it
(counts on an axis, the allowed hours shaded), unknown cases listed, bad input refused with
a 400 naming the field, and no personal data on the page."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, PersonIn
from tests.ui.conftest import Served, jar, login

SMS_DAYTIME = (
    'preset = "none"\njitter = "0s"\n\n[[windows]]\nname = "sms-day"\nchannels = ["sms"]\n'
    'from = "09:00"\nto = "18:00"\n'
)


def _cases(served: Served) -> None:
    """Two people with a case each on the standard ladder, fallen due two days ago."""
    due = date.today() - timedelta(days=2)
    store = served.dep.store()
    try:
        store.upsert(
            [
                PersonIn("P1", "Ann One", "en", "Asia/Shanghai", ("+8613800138001",), ("a@x.cn",)),
                PersonIn("P2", "Bo Two", "en", "Asia/Shanghai", ("+8613800138002",), ("b@x.cn",)),
            ],
            [
                CaseIn("C1", "P1", "500.00", "CNY", due, "standard"),
                CaseIn("C2", "P2", "800.00", "CNY", due, "standard"),
            ],
            datetime.now(UTC),
        )
    finally:
        store.close()
    served.dep.write("policy.toml", SMS_DAYTIME)
    served.daemon.runtime = load_runtime(served.dep.config)


async def _page(http: aiohttp.ClientSession, served: Served, **query: str) -> tuple[int, str]:
    async with http.get(f"{served.base}/ui/simulate", params=query) as page:
        return page.status, await page.text()


async def test_the_report_counts_each_hour_against_the_shaded_window(served: Served) -> None:
    _cases(served)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        status, text = await _page(http, served, cases="C1, C2,C404", days="14")
    assert status == 200
    assert 'id="nav-simulate"' in text and 'id="sim-against"' in text
    contacts = int(re.search(r'data-count="contacts">(\d+)<', text).group(1))  # type: ignore[union-attr]
    figures = dict(
        re.findall(r'<figure class="hour-of-day" data-channel="([^"]+)">(.*?)</figure>', text, re.S)
    )
    assert {"sms", "voice", "email"} <= set(figures)
    total = 0
    for channel, figure in figures.items():
        bars = {
            int(h): int(n)
            for h, n in re.findall(r'class="bar"[^>]*data-hour="(\d\d)" data-count="(\d+)"', figure)
        }
        total += sum(bars.values())
        assert f"{channel} · {sum(bars.values())} " in figure
        assert '<text class="tick"' in figure  # the count axis
        shaded = {int(h) for h in re.findall(r'class="window"[^>]*data-hour="(\d\d)"', figure)}
        if channel == "sms":  # shaded where policy.toml allows it, and only sent then
            assert shaded == set(range(9, 18)) and set(bars) <= shaded
        else:
            assert not shaded  # no window binds it: nothing to shade
    assert total == contacts > 0
    assert text.count('<tr class="contact">') == contacts
    # No jurisdiction in policy.toml: every contact counts under "-".
    assert f'<tr data-key="-"><td>-</td><td>{contacts}</td></tr>' in text
    assert '<section id="sim-reasons">' in text and 'id="sim-days-table"' in text
    assert {"C1", "C2"} == set(re.findall(r'<tr class="contact"><td>(C\d)</td>', text))
    assert 'id="sim-missing"' in text and '<span class="missing">C404</span>' in text
    # Case ids only: no name, phone or email of the people simulated.
    for personal in ("Ann One", "Bo Two", "+86138", "a@x.cn", "b@x.cn"):
        assert personal not in text
    # Nothing simulated reached the live store.
    assert served.daemon.store.status(datetime.now(UTC)).by_state_channel == []


async def test_a_case_in_a_breathing_space_is_left_out_and_said(served: Served) -> None:
    _cases(served)
    now = datetime.now(UTC)
    served.daemon.store.case_event(
        "C2", "breathing-space", now=now, source="test", until=now + timedelta(days=60)
    )
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        status, text = await _page(http, served, cases="C1,C2", days="5")
    assert status == 200 and 'id="sim-breathing-space"' in text
    assert set(re.findall(r'<tr class="contact"><td>(C\d)</td>', text)) == {"C1"}


async def test_bad_input_is_refused_naming_the_field(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        for days in ("0", "61", "ten", "-3"):
            status, text = await _page(http, served, cases="C1", days=days)
            assert status == 400 and f"days: &#39;{days}&#39;" in text, (days, text)
        status, text = await _page(http, served, cases=",".join(f"C{i}" for i in range(21)))
        assert status == 400 and "cases: 21 case ids, at most 20" in text
        status, text = await _page(http, served, cases="<b>x,C404")
        assert status == 200 and "&lt;b&gt;x" in text and "C404" in text
        assert 'id="sim-totals"' not in text
        status, text = await _page(http, served)  # the form alone
        assert status == 200 and 'value="14"' in text


async def test_the_page_needs_a_login_and_speaks_chinese(served: Served) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.get(f"{served.base}/ui/simulate?cases=C1", allow_redirects=False) as answer:
            assert (answer.status, answer.headers["Location"]) == (303, "/ui/login")
        await login(http, served.base, "reader")
        zh = {"Accept-Language": "zh-CN"}
        async with http.get(f"{served.base}/ui/simulate", headers=zh) as page:
            text = await page.text()
        assert ">模拟<" in text and "案件编号" in text


async def test_one_simulation_runs_at_a_time(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one run is under way a second request is told to try again (429), and runs
    once the first is over."""
    from dispatcher.ui import simulate_view

    _cases(served)
    started, release = threading.Event(), threading.Event()
    real = simulate_view.simulate

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate_view, "simulate", held)
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, served.base, "reader")
        first = asyncio.create_task(_page(http, served, cases="C1", days="3"))
        assert await asyncio.to_thread(started.wait, 30)
        status, text = await _page(http, served, cases="C2", days="3")
        assert status == 429 and 'id="sim-busy"' in text
        release.set()
        assert (await first)[0] == 200
        status, text = await _page(http, served, cases="C2", days="3")
        assert status == 200 and 'id="sim-totals"' in text
