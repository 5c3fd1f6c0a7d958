"""The console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by selenium, against the real daemon (a subprocess) over a store with sends,
deferrals, suppressions, failures and unknown attempts. Each page is photographed once
(PNG under the system's temp dir, for a person to look at)."""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from dispatcher.model import HourWish, Wishes
from tests.api.conftest import running_daemon
from tests.conftest import Deployment
from tests.ui.busy_store import fill
from tests.ui.conftest import token

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip(
        "no Chromium here (apt-get install chromium chromium-driver; .ci/run does)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow
SHOTS = Path(tempfile.gettempdir()) / "dispatcher-console-shots"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1360,1800",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--lang=en-US")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


# The cn preset's hours for every channel, and office hours of its own for SMS.
POLICY = """
preset = "cn"
jitter = "0s"
window_exempt = ["letter"]

[[windows]]
name = "sms-office-hours"
channels = ["sms"]
days = "mon-fri"
from = "09:00"
to = "18:00"
"""


def prepare(dep: Deployment) -> None:
    dep.write("policy.toml", POLICY)
    fill(dep)
    # Wishes about calls only: they change nothing of the sms and email sends the pages count.
    store = dep.store()
    try:
        wishes = Wishes(("voice",), (HourWish("not_before", time(10), channel="voice"),))
        store.set_wishes("P2", wishes, now=datetime.now(UTC), source="test")
    finally:
        store.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Deployment]]:
    root = tmp_path_factory.mktemp("console")
    with running_daemon(root, prepare) as base:
        yield base, Deployment(root)


def wait(driver: Any, seconds: float = 20) -> Any:
    # The overview replaces its figures on every refresh, so an element found a moment ago may
    # be gone when it is read: such a read is retried, not failed.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def shoot(driver: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def log_in(driver: Any, base: str, name: str) -> None:
    driver.get(f"{base}/ui/login")
    field = wait(driver).until(ec.presence_of_element_located((By.ID, "token")))
    field.clear()
    field.send_keys(token(name))
    driver.find_element(By.ID, "login").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "overview")))


def status_json(dep: Deployment) -> dict[str, Any]:
    """What ``dispatcher status --json`` prints for the deployment."""
    result = dep.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


COUNTS = """return Object.fromEntries(Array.from(document.querySelectorAll('[data-count]'),
    function (e) { return [e.getAttribute('data-count'), e.innerText]; }));"""

BARS = """return Array.from(document.querySelectorAll('#chart-send svg rect.bar'), function (b) {
    return [b.getAttribute('data-channel'), b.getAttribute('data-count'), b.getAttribute('height')];
});"""


def counts(driver: Any) -> dict[str, str]:
    """Every figure on the page, read in one step: a refresh cannot land between two reads."""
    return dict(driver.execute_script(COUNTS))


def shown(driver: Any, key: str) -> str | None:
    return counts(driver).get(key)


def test_without_a_token_the_console_is_refused(browser: Any, daemon: Any) -> None:
    base, _ = daemon
    browser.delete_all_cookies()
    browser.get(f"{base}/ui/")
    wait(browser).until(ec.url_to_be(f"{base}/ui/login"))
    shoot(browser, "login")
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "login").click()
    error = wait(browser).until(ec.presence_of_element_located((By.ID, "login-error")))
    assert error.text == "Unknown token."
    browser.get(f"{base}/ui/case?id=C3")
    wait(browser).until(ec.url_to_be(f"{base}/ui/login"))


def test_the_overview_shows_what_status_counts_and_draws_the_chart(
    browser: Any, daemon: Any
) -> None:
    base, dep = daemon
    log_in(browser, base, "reader")
    report = status_json(dep)
    figures = counts(browser)
    for row in report["reminders"]:
        key = f"reminders/{row['state']}/{row['channel']}"
        assert figures.get(key) == str(row["count"]), key
    assert figures.get("due_now") == str(report["due_now"])
    for row in report["pending_by_reason"]:
        assert figures.get(f"pending_by_reason/{row['reason']}") == str(row["count"])
    for row in report["failures"]:
        assert figures.get(f"failures/{row['channel']}/{row['code']}") == str(row["count"])
    assert figures.get("unknown_total") == str(report["unknown"]["total"]) == "4"
    for channel, n in report["unknown"]["by_channel"].items():
        assert figures.get(f"unknown_by_channel/{channel}") == str(n)
    # Nothing the page counts is missing from status --json: the grid's other cells are 0,
    # and each state's total is the sum of its row.
    listed = {f"reminders/{r['state']}/{r['channel']}": r["count"] for r in report["reminders"]}
    for key, text in figures.items():
        parts = key.split("/")
        if parts[0] == "reminders" and len(parts) == 3:
            assert text == str(listed.get(key, 0)), key
        elif parts[0] == "reminders":
            row = sum(n for k, n in listed.items() if k.split("/")[1] == parts[1])
            assert text == str(row), key
    reasons = {f"pending_by_reason/{r['reason']}" for r in report["pending_by_reason"]}
    failures = {f"failures/{r['channel']}/{r['code']}" for r in report["failures"]}
    assert {k for k in figures if k.startswith("pending_by_reason/")} == reasons
    assert {k for k in figures if k.startswith("failures/")} == failures
    arrangements = {f"arrangements/{state}": str(n) for state, n in report["arrangements"].items()}
    assert {k: v for k, v in figures.items() if k.startswith("arrangements/")} == arrangements
    bars = browser.execute_script(BARS)
    assert bars and {channel for channel, _, _ in bars} == {"sms", "email"}
    assert sum(int(n) for _, n, _ in bars) == 20
    assert all(float(height) > 0 for _, _, height in bars)
    shoot(browser, "overview")


def test_the_overview_refreshes_itself(browser: Any, daemon: Any) -> None:
    base, _ = daemon
    log_in(browser, base, "reader")
    assert shown(browser, "unknown_by_channel/sms") == "2"
    body = json.dumps({"resolution": "sent", "channel": "sms", "reason": "seen at Twilio"})
    request = urllib.request.Request(
        f"{base}/v1/attempts:resolve",
        data=body.encode(),
        headers={"Authorization": f"Bearer {token('writer')}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["resolved"] == 2
    wait(browser, 30).until(lambda d: shown(d, "unknown_total") == "2")
    assert "unknown_by_channel/sms" not in counts(browser)


def test_a_case_is_looked_up(browser: Any, daemon: Any) -> None:
    base, _ = daemon
    log_in(browser, base, "reader")
    browser.find_element(By.ID, "nav-case").click()
    field = wait(browser).until(ec.presence_of_element_located((By.ID, "case-id")))
    field.send_keys("C2")
    browser.find_element(By.ID, "look-up").click()
    state = wait(browser).until(ec.presence_of_element_located((By.ID, "case-state")))
    assert state.text == "open"
    assert browser.find_element(By.ID, "case-title").text == "C2"
    entries = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#timeline tr.entry")]
    assert any("decision send" in e for e in entries)
    assert any("attempt failed-transient" in e and "30003" in e for e in entries)
    assert "Person 2" not in browser.page_source  # masked for a read token
    assert browser.find_element(By.ID, "wishes-refused").text == "voice"
    assert browser.find_element(By.ID, "wishes-hours").text == "no voice before 10:00"
    shoot(browser, "case")


def test_the_policy_page_draws_each_channels_week(browser: Any, daemon: Any) -> None:
    base, _ = daemon
    log_in(browser, base, "reader")
    browser.find_element(By.ID, "nav-policy").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "weeks")))
    sms = '[data-channel="sms"] svg.week rect.cell'
    assert len(browser.find_elements(By.CSS_SELECTOR, sms)) == 7 * 24
    assert len(browser.find_elements(By.CSS_SELECTOR, f"{sms}.open")) == 5 * 9
    email = '[data-channel="email"] svg.week rect.cell.open'
    assert len(browser.find_elements(By.CSS_SELECTOR, email)) == 7 * 14
    rules = browser.find_element(By.ID, "rules").text
    assert "preset cn: windows.no-night-contact" in rules
    assert "policy.toml: windows.sms-office-hours" in rules
    shoot(browser, "policy")


def test_the_language_switches(browser: Any, daemon: Any) -> None:
    base, _ = daemon
    log_in(browser, base, "officer")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    browser.find_element(By.ID, "lang-switch").click()
    wait(browser).until(
        lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    )
    assert browser.find_element(By.ID, "nav-overview").text == "概览"
    shoot(browser, "overview-zh")
    browser.find_element(By.ID, "lang-switch").click()
    wait(browser).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
