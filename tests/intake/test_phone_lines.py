"""A phone number's line in an import: ``work:+16175550123`` in the ``phone`` column (CSV,
several numbers separated by ``;``) or in a JSON list, through the real CLI on a real SQLite
file; a line that is not one of mobile, residence, work, other refused with its row, field
and value."""

from __future__ import annotations

import json

import pytest

from dispatcher.intake import GoodRow
from dispatcher.model import ContactKind, PhoneLine
from dispatcher.store import open_store
from tests.intake.conftest import ImportSite
from tests.intake.test_intake import GOOD_ROW, assert_reported, csv_text, errors_of, parse, row


def test_an_import_reads_each_numbers_line(site: ImportSite) -> None:
    text = csv_text(
        row("P-L1", "C-L1", "Ann", phone="work:+16175550101; mobile:+16175550102;+16175550103"),
        row("P-L2", "C-L2", "Bo", phone="Residence: +16175550104"),
        row("P-L3", "C-L3", "Cy", phone="pager:+16175550105"),
        row("P-L4", "C-L4", "Di", phone="work:+16175550106;+1617:5550107"),
    )
    result = site.import_(site.write("lines.csv", text))
    assert result.exit_code == 1, result.output
    assert "imported 2 row(s); rejected 2" in result.output
    assert_reported(result, 4, "phone", "unknown line type 'pager' before ':'")
    assert_reported(result, 4, "phone", "mobile, residence, work or other")
    # Not a word before the colon: refused without showing what may be part of a number.
    assert_reported(result, 5, "phone", "unknown line type before ':'")
    assert "+1617:" not in result.output and "5550107" not in result.output
    store = open_store(site.url)
    try:
        ann, bo = store.get_person("P-L1"), store.get_person("P-L2")
        assert ann is not None and bo is not None
        phones = [c for c in ann.contacts if c.kind is ContactKind.PHONE]
        assert [
            (c.value, c.line, c.priority) for c in sorted(phones, key=lambda c: c.priority)
        ] == [
            ("+16175550101", PhoneLine.WORK, 0),
            ("+16175550102", PhoneLine.MOBILE, 1),
            ("+16175550103", None, 2),
        ]
        assert [c.line for c in bo.contacts] == [PhoneLine.RESIDENCE]
    finally:
        store.close()


def test_json_lists_name_lines_as_csv_cells_do(site: ImportSite) -> None:
    rows = [
        {**GOOD_ROW, "person_id": "P-J1", "case_id": "C-J1", "phone": ["other:+16175550110"]},
        {**GOOD_ROW, "person_id": "P-J2", "case_id": "C-J2", "phone": ["landline:+16175550111"]},
    ]
    path = site.write("lines.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = site.import_(path)
    assert result.exit_code == 1, result.output
    assert_reported(result, 2, "phone", "unknown line type 'landline'")
    store = open_store(site.url)
    try:
        person = store.get_person("P-J1")
        assert person is not None and [c.line for c in person.contacts if c.line] == [
            PhoneLine.OTHER
        ]
        assert store.get_person("P-J2") is None
    finally:
        store.close()


def test_a_row_without_lines_gives_none() -> None:
    result = parse(GOOD_ROW)
    assert isinstance(result, GoodRow)
    assert result.person.phone_lines == ()


@pytest.mark.parametrize("line", ["mobile", "residence", "work", "other"])
def test_each_line_is_read(line: str) -> None:
    result = parse({**GOOD_ROW, "phone": f"{line}:+16175550120; +16175550121"})
    assert isinstance(result, GoodRow)
    assert result.person.phones == ("+16175550120", "+16175550121")
    assert result.person.phone_lines == (PhoneLine(line), None)


def test_unknown_is_no_line_to_import() -> None:
    """A number of no known line is written without one; ``unknown:`` is a policy word."""
    assert (
        "unknown line type 'unknown'"
        in errors_of(parse({**GOOD_ROW, "phone": "unknown:+16175550120"}))["phone"]
    )
