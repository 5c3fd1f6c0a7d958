"""The person's page in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium, against the real daemon (a subprocess). The link comes
from the SMS the daemon wrote to its outbox; a plan within the bounds is confirmed, the
ladder's next reminder is then held and the instalments' reminders planned; the same link
altered or expired is refused; a plan beyond the bounds becomes a request for the team."""

from __future__ import annotations

import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatcher.links import LinkSigner
from dispatcher.model import ArrangementState, CaseState, ReminderState
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.api.conftest import running_daemon
from tests.conftest import Deployment, shanghai_today, wait_for
from tests.ui.self_service_setup import SECRET, SECRET_ENV, configure, store_read
from tests.ui.test_browser import browser, shoot, wait  # noqa: F401  (a fixture)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytestmark = pytest.mark.slow
SHANGHAI = ZoneInfo("Asia/Shanghai")
SIGNERS: dict[str, LinkSigner] = {}


def prepare(dep: Deployment) -> None:
    """The page configured at the daemon's own address; the first SMS carries the link; two
    cases on the standard ladder, each with its notice due now and its call tomorrow."""
    port = re.search(
        r'^listen = "127\.0\.0\.1:(\d+)"$', dep.config.joinpath("dispatcher.toml").read_text(), re.M
    )
    assert port
    SIGNERS["page"] = configure(dep, f"http://127.0.0.1:{port.group(1)}")
    template = dep.config / "templates/sms/first_notice.en.j2"
    template.write_text(
        template.read_text().rstrip("\n") + " Your options: {{ self_service_url }}\n"
    )
    now = datetime.now(UTC)
    store = dep.store()
    try:
        store.upsert(
            [
                PersonIn(
                    f"P{n}", f"Person {n}", "en", "Asia/Shanghai", (f"+861380013800{n}",), (), ()
                )
                for n in (1, 2)
            ],
            [
                CaseIn(
                    f"C{n}",
                    f"P{n}",
                    "300.00",
                    "CNY",
                    shanghai_today() - timedelta(days=2),
                    "standard",
                )
                for n in (1, 2)
            ],
            now,
        )
        store.add_reminders(
            [
                NewReminder(f"C{n}", f"P{n}", "standard", step, channel, template, due)
                for n in (1, 2)
                for step, channel, template, due in (
                    ("notice", "sms", "first_notice", now - timedelta(minutes=1)),
                    ("call", "voice", "call_script", now + timedelta(days=1)),
                )
            ],
            [(f"C{n}", now + timedelta(days=3650)) for n in (1, 2)],
            now,
        )
    finally:
        store.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Deployment]]:
    root = tmp_path_factory.mktemp("self-service")
    with running_daemon(root, prepare, env={SECRET_ENV: SECRET}) as base:
        yield base, Deployment(root)


Site = tuple[Any, str, Deployment]  # the browser, the daemon's base URL, its deployment


@pytest.fixture
def site(browser: Any, daemon: tuple[str, Deployment]) -> Site:  # noqa: F811  (imported)
    return browser, *daemon


def _link_of(dep: Deployment, case_id: str) -> str:
    def found() -> str | None:
        for line in dep.outbox_lines():
            if line.get("case_id") == case_id and "/s/" in line.get("body", ""):
                return str(re.search(r"http://\S+/s/\S+", line["body"]).group(0))  # type: ignore[union-attr]
        return None

    return str(wait_for(found))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _fill(driver: Any, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def _propose(driver: Any, count: int) -> str:
    """Propose ``count`` monthly instalments from five days on, by keyboard: each field
    found by the id its label names, the form sent with Enter. The page's answer."""
    _fill(driver, "plan-count", str(count))
    _fill(driver, "plan-first", (shanghai_today() + timedelta(days=5)).isoformat())
    Select(driver.find_element(By.ID, "plan-every")).select_by_value("month")
    driver.find_element(By.ID, "plan-first").send_keys(Keys.ENTER)
    return str(wait(driver).until(ec.presence_of_element_located((By.ID, "done"))).text)


def _ladder_call_due_now(dep: Deployment, case_id: str) -> None:
    """The ladder's next step (the call) brought to now, as if its day had come: the daemon
    decides it at its next poll."""
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(dep.db) as db:
        db.execute(
            "UPDATE reminders SET due_at = ? WHERE case_id = ? AND step = 'call'", (now, case_id)
        )


def test_a_plan_within_the_bounds_is_confirmed_and_holds_the_ladder(site: Site) -> None:
    driver, base, dep = site
    link = _link_of(dep, "C1")
    assert link.startswith(f"{base}/s/")
    driver.get(link)
    heading = wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
    assert heading.text == "Your account"
    assert driver.find_element(By.ID, "reference").text == "C1"
    assert driver.find_element(By.ID, "balance").text == "300.00 CNY"
    labels = {e.get_attribute("for") for e in driver.find_elements(By.TAG_NAME, "label")}
    assert {"plan-count", "plan-first", "plan-every", "promise-date"} <= labels
    assert _propose(driver, 3) == "Thank you: your instalment plan is confirmed."
    rows = driver.find_elements(By.CSS_SELECTOR, "#arrangement tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows] == ["100.00 CNY"] * 3
    shoot(driver, "self-service-plan")

    (arrangement,) = store_read(dep, "arrangements_of", "C1")
    assert arrangement.state is ArrangementState.ACTIVE and len(arrangement.instalments) == 3
    assert store_read(dep, "get_case", "C1").state is CaseState.PLAN
    history = store_read(dep, "case_history", "C1")
    planned = [
        r.step
        for r in history.reminders
        if r.schedule == "arrangement" and r.state is ReminderState.PENDING
    ]
    first = f"{arrangement.id}/1/"
    assert {f"{first}before", f"{first}due"} <= set(planned)
    # The ladder's call, once due, is held by the plan, not sent.
    _ladder_call_due_now(dep, "C1")

    def held() -> bool:
        decisions = store_read(dep, "case_history", "C1").decisions
        return any(
            d["verdict"] == "defer" and any(r[0] == "case_plan" for r in d["reasons"])
            for d in decisions
        )

    wait_for(held)
    calls = [r for r in store_read(dep, "case_history", "C1").reminders if r.step == "call"]
    assert calls and calls[0].state is ReminderState.PENDING
    explained = dep.cli("explain", "C1")
    assert explained.returncode == 0 and "case_plan" in explained.stdout


def test_the_link_altered_or_expired_is_refused(site: Site) -> None:
    driver, _, dep = site
    link = _link_of(dep, "C1")
    head, tag = link.rsplit(".", 1)
    altered = f"{head}.{'B' if tag[0] != 'B' else 'C'}{tag[1:]}"
    driver.get(altered)
    message = wait(driver).until(ec.presence_of_element_located((By.ID, "message")))
    assert "This link is not valid" in message.text
    assert _status(altered) == 403
    signer = SIGNERS["page"]
    expired = f"{signer.base_url}/s/{signer.token('C1', date.today() - timedelta(days=1))}"
    driver.get(expired)
    message = wait(driver).until(ec.presence_of_element_located((By.ID, "message")))
    assert "expired" in message.text
    assert _status(expired) == 410


def test_a_plan_beyond_the_bounds_becomes_a_request(site: Site) -> None:
    driver, _, dep = site
    driver.get(_link_of(dep, "C2"))
    wait(driver).until(ec.presence_of_element_located((By.ID, "plan-count")))
    assert "our team will look at your request" in _propose(driver, 24)
    assert store_read(dep, "arrangements_of", "C2") == []
    assert store_read(dep, "get_case", "C2").state is CaseState.OPEN
    (request,) = store_read(dep, "arrangement_requests", datetime(2000, 1, 1, tzinfo=UTC))
    assert request.case_id == "C2" and "at most 12 allowed" in request.detail
    listed = dep.cli("arrangement", "requests")
    assert listed.returncode == 0 and "C2" in listed.stdout and "at most 12" in listed.stdout
