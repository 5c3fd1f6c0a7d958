"""Letters through the real daemon and its spool: a Chinese letter is left-aligned (justifying
text without spaces can only stretch the few it has, around numbers) and names the sender in
Chinese; an English letter keeps its justified block."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pypdf import PdfReader

from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.conftest import Deployment, stop, wait_for

PEOPLE = {
    "P1": ("王小明", "zh-CN", "上海市示例区示例路12号\n8室\nCN"),
    "P2": ("Pat Example", "en", "1 Main Street\nSpringfield, IL 62701"),
}


def _seed_letters(dep: Deployment) -> None:
    now = datetime.now(UTC)
    store = dep.store()
    people = [
        PersonIn(id=pid, name=name, locale=locale, timezone="UTC", addresses=(address,))
        for pid, (name, locale, address) in PEOPLE.items()
    ]
    cases = [
        CaseIn(
            id=f"C{pid}",
            person_id=pid,
            amount="1234.50",
            currency="CNY",
            due_date=date.today() - timedelta(days=40),
            schedule="standard",
        )
        for pid in PEOPLE
    ]
    store.upsert(people, cases, now)
    reminders = [
        NewReminder(
            case_id=f"C{pid}",
            person_id=pid,
            schedule="adhoc",
            step="letter-1",
            channel="letter",
            template="formal_letter",
            due_at=now - timedelta(minutes=1),
        )
        for pid in PEOPLE
    ]
    store.add_reminders(reminders, [(f"C{pid}", now + timedelta(days=3650)) for pid in PEOPLE], now)
    store.close()


def _letters(dep: Deployment) -> list[Path]:
    return sorted(dep.outbox.glob("*.pdf")) if dep.outbox.exists() else []


def _page(path: Path) -> tuple[str, str]:
    """The letter's text (spaces removed) and its page's content stream."""
    page = PdfReader(io.BytesIO(path.read_bytes())).pages[0]
    content = page.get_contents()
    assert content is not None
    return "".join(page.extract_text().split()), content.get_data().decode("latin-1")


def test_a_chinese_letter_is_left_aligned_and_in_chinese_throughout(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    _seed_letters(dep)
    process = dep.start()
    try:
        wait_for(lambda: len(list(dep.outbox.glob("*.json"))) >= 2, timeout=60)
    finally:
        stop(process)
    pages = [_page(path) for path in _letters(dep)]
    [(zh_text, zh_content)] = [p for p in pages if "王小明" in p[0]]
    [(en_text, en_content)] = [p for p in pages if "PatExample" in p[0]]
    assert "请于30日内致电+18005550100" in zh_text
    assert "客户服务部" in zh_text and "Accounts" not in zh_text
    # fpdf2 justifies a line by spacing its words apart inside a TJ array; a line set
    # left-aligned is one plain Tj string.
    assert "] TJ" not in zh_content
    assert "Accountsteam" in en_text and "] TJ" in en_content
