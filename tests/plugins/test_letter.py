"""Letters: the PDF carries the rendered Chinese and English text, the spool never shows a
partial file, and the example deployment's letters pass check and policy as letters should."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dispatcher_plugins.letter import LetterChannel
from dispatcher_plugins.letter.address import Recipient
from dispatcher_plugins.letter.pdf import Layout, bundled_font, render_letter
from dispatcher_plugins.letter.settings import LetterSettings
from dispatcher_plugins.letter.spool import Spool
from pydantic import ValidationError
from pypdf import PdfReader

from dispatcher.model import (
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    OptOut,
    Person,
    Reminder,
    Verdict,
)
from dispatcher.policy import decide
from dispatcher.runtime import load_runtime
from dispatcher.testing import deliver
from dispatcher.testing.samples import sample_message
from tests.conftest import Deployment

SENDER = {"name": "Acme Lending", "address_line1": "1 Example Plaza", "city": "New York"}
ZH_ADDRESS = "上海市示例区示例路12号\n8室\nCN"


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def squeeze(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(("page_size", "width_pt"), [("A4", 595), ("letter", 612)])
def test_the_pdf_carries_the_rendered_chinese_and_english_text(
    deployment: Deployment, tmp_path: Path, page_size: str, width_pt: int
) -> None:
    templates = load_runtime(deployment.config).config.templates
    context = {
        "person": {"name": "王小明"},
        "case": {"id": "C-1001", "amount": "1234.50", "currency": "CNY", "due_date": "2026-10-01"},
        "company": "Acme Lending",
        "company_zh": "示例借贷公司",
        "callback_number": "+1 800 555 0100",
        "contact_person": "Accounts team",
        "contact_person_zh": "客户服务部",
    }
    rendered = templates.render("letter", "formal_letter", "zh-CN", context)
    settings = LetterSettings.model_validate(
        {"sender": SENDER, "directory": str(tmp_path), "page_size": page_size}
    )
    channel = LetterChannel("letter", settings)
    message = sample_message(ContactKind.POSTAL, body=rendered.body, contact=ZH_ADDRESS)

    pdf, _ = channel.render(message)

    text = text_of(pdf)
    assert "王小明" in text and "上海市示例区示例路12号" in text and "AcmeLending" in text
    for paragraph in rendered.body.split("\n\n")[1:]:
        assert squeeze(paragraph) in text
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert round(float(page.mediabox.width)) == width_pt
    assert len(pdf) < 60_000  # the font is subset: only the glyphs used are embedded


def test_html_when_the_message_has_it_is_the_letter(tmp_path: Path) -> None:
    layout = Layout("A4", ("Acme Lending",), bundled_font(), print_window=True)
    to = Recipient("Pat Example", ("17 Quarry Lane", "Exampleton"), "GB")
    pdf = render_letter(
        layout, to, "plain text", html="<p>Dear Pat, <b>账户</b> C-1</p>", dated=date(2026, 1, 2)
    )
    text = text_of(pdf)
    assert "DearPat,账户C-1" in text and "plaintext" not in text


def test_nothing_about_a_debt_in_the_window(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"sender\.name[\s\S]*envelope window"):
        LetterSettings.model_validate({"sender": {**SENDER, "name": "Acme Debt Collection"}})
    settings = LetterSettings.model_validate({"sender": SENDER, "directory": str(tmp_path)})
    channel = LetterChannel("letter", settings)
    debt_first = sample_message(ContactKind.POSTAL, body="Your overdue debt\n\nDear Pat")
    with pytest.raises(Exception, match="envelope window") as raised:
        channel.render(debt_first)
    assert type(raised.value).__name__ == "PermanentError"


def good_pdf(tmp_path: Path) -> bytes:
    layout = Layout("A4", ("Acme Lending",), bundled_font(), print_window=True)
    to = Recipient("Pat Example", ("17 Quarry Lane", "Exampleton"), "GB")
    return render_letter(layout, to, "Dear Pat,\n\n" + "text " * 2000, dated=date(2026, 1, 2))


def test_a_print_house_never_sees_a_partial_letter(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "letters", fsync=False)
    pdf = good_pdf(tmp_path)
    digest = hashlib.sha256(pdf).hexdigest()
    problems: list[str] = []
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        # A print house polling for manifests, reading each one's PDF at once.
        while not done.is_set():
            for manifest in list(spool.directory.glob("*.json")):
                record = json.loads(manifest.read_bytes())
                body = spool.pdf_path(record["attempt_id"]).read_bytes()
                if hashlib.sha256(body).hexdigest() != record["sha256"]:
                    problems.append(f"{manifest.name}: PDF does not match")
                seen.add(manifest.name)
            for path in list(spool.directory.glob("*.pdf")):
                body = path.read_bytes()
                if hashlib.sha256(body).hexdigest() != digest:
                    problems.append(f"{path.name}: partial PDF ({len(body)} bytes)")

    spool.directory.mkdir(parents=True)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for number in range(200):
            spool.write(f"A-{number}", pdf, {"attempt_id": f"A-{number}", "sha256": digest})
    finally:
        done.set()
        watcher.join()
    assert problems == []
    assert seen, "the watcher never saw a letter"
    assert len(list(spool.directory.glob("*.json"))) == 200
    assert [p.name for p in spool.directory.iterdir() if p.name.startswith(".")] == []


def test_a_failure_midway_leaves_no_letter(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "letters")
    spool.directory.mkdir()
    spool.manifest_path("A-1").mkdir()  # the manifest cannot be renamed into place
    with pytest.raises(OSError):
        spool.write("A-1", good_pdf(tmp_path), {"attempt_id": "A-1"})
    assert sorted(p.name for p in spool.directory.iterdir()) == ["A-1.json"]


async def test_a_spooled_letter_and_its_manifest(tmp_path: Path) -> None:
    settings = LetterSettings.model_validate({"sender": SENDER, "directory": str(tmp_path)})
    channel = LetterChannel("letter", settings)
    await channel.open()
    message = sample_message(ContactKind.POSTAL, body="Pat Example\n\nDear Pat,\n\nhello")
    result = await deliver(channel, message)
    await channel.close()
    pdf = (tmp_path / f"{message.attempt_id}.pdf").read_bytes()
    manifest = json.loads((tmp_path / f"{message.attempt_id}.json").read_bytes())
    assert result.provider_id == f"spool:{message.attempt_id}"
    assert manifest["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert manifest["page_size"] == "A4" and manifest["case_id"] == message.case_id
    assert "Quarry" not in json.dumps(manifest)  # the address is in the PDF only


def test_check_requires_approved_by_on_letter_templates(deployment: Deployment) -> None:
    assert deployment.cli("check").returncode == 0
    deployment.set("templates/letter/formal_letter.en.j2", r"^approved_by = .*\n", "")
    result = deployment.cli("check")
    assert result.returncode == 1
    assert "letter/formal_letter.en.approved_by" in result.stdout


ADDRESS = "1 Main Street\nSpringfield, IL 62701"
PERSON = Person(
    "P1", "Pat Example", "en", "America/New_York", (ContactPoint(1, ContactKind.POSTAL, ADDRESS),)
)


def letter_case(state: CaseState) -> Case:
    return Case("C1", "P1", "100.00", "USD", date(2025, 12, 1), state, "standard", None)


def test_letters_go_in_quiet_hours_but_not_on_a_paid_or_disputed_case_or_after_an_opt_out(
    deployment: Deployment,
) -> None:
    runtime = load_runtime(deployment.config)
    assert runtime.channels["letter"].window_exempt
    policy = runtime.policy
    due = datetime(2026, 1, 1, tzinfo=UTC)
    letter = Reminder(1, "C1", "P1", "standard", "4", "letter", "formal_letter", due, due)
    three_am = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)  # 03:00 in New York
    open_case = letter_case(CaseState.OPEN)

    assert decide(policy, letter, PERSON, open_case, (), three_am).verdict is Verdict.SEND
    for state in (CaseState.PAID, CaseState.DISPUTED):
        verdict = decide(policy, letter, PERSON, letter_case(state), (), three_am).verdict
        assert verdict is not Verdict.SEND, state
    opted_out = replace(PERSON, opt_outs=(OptOut("letter"),))
    assert decide(policy, letter, opted_out, open_case, (), three_am).verdict is Verdict.SUPPRESS
