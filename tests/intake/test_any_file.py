"""`dispatcher import` takes any file: whatever its bytes, every good row is kept, every other
record is reported with its row number, and nothing ends in a traceback."""

from __future__ import annotations

import json
import re

import pytest

from dispatcher.intake import is_id
from dispatcher.store import open_store
from tests.intake.conftest import ImportSite
from tests.intake.test_intake import assert_reported, csv_text, error_lines, row


def many_rows(count: int, name: str = "Ann Müller") -> list[dict[str, str]]:
    return [row(f"P-{n}", f"C-{n}", name, phone=f"+4420794600{n % 100:02d}") for n in range(count)]


def stored_names(site: ImportSite, *person_ids: str) -> list[str]:
    store = open_store(site.url)
    try:
        return [p.name for p in map(store.get_person, person_ids) if p is not None]
    finally:
        store.close()


def test_one_latin1_byte_rejects_its_row_and_keeps_every_other(site: ImportSite) -> None:
    rows = many_rows(3000, name="Ann Good")
    data = bytearray(csv_text(*rows).encode("utf-8"))
    # Record 2,602 (row 2,603 as a spreadsheet numbers it) names "Jürgen" in Latin-1.
    line = csv_text(rows[2601]).splitlines()[1].encode()
    at = data.index(line)
    data[at : at + len(line)] = line.replace(b"Ann Good", "Jürgen".encode("latin-1"))
    result = site.import_(site.write_bytes("people.csv", bytes(data)))

    assert result.exit_code == 1
    assert "imported 2999 row(s); rejected 1" in result.output
    assert [line.split(":")[0] for line in error_lines(result)] == ["row 2603"]
    assert_reported(result, 2603, "(record)", "not valid utf-8")
    assert "--encoding" in result.output
    assert len(site.case_ids()) == 2999 and "C-2601" not in site.case_ids()


def test_encoding_option_reads_a_latin1_file(site: ImportSite) -> None:
    text = csv_text(*many_rows(3, name="Jürgen Müller"))
    path = site.write_bytes("people.csv", text.encode("cp1252"))
    result = site.import_(path, "--encoding", "cp1252")

    assert result.exit_code == 0, result.output
    assert stored_names(site, "P-0", "P-2") == ["Jürgen Müller"] * 2


def test_an_unknown_encoding_is_a_clear_error(site: ImportSite) -> None:
    result = site.import_(site.write("people.csv", csv_text(*many_rows(1))), "--encoding", "nope")

    assert result.exit_code == 2, "a usage error (README: exit codes)"
    assert "unknown encoding 'nope'" in result.output
    assert site.case_ids() == set()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_byte_order_marks_and_utf16_exports_are_read(site: ImportSite, encoding: str) -> None:
    text = csv_text(*many_rows(5, name="王芳 Müller")).replace("\n", "\r\n")
    data = text.encode(encoding)
    if encoding == "utf-16-le":  # a spreadsheet's "Unicode text": UTF-16 LE with its mark
        data = b"\xff\xfe" + data
    result = site.import_(site.write_bytes("people.csv", data))

    assert result.exit_code == 0, result.output
    assert "imported 5 row(s); rejected 0" in result.output
    assert stored_names(site, "P-0") == ["王芳 Müller"]


def test_a_field_over_the_csv_limit_is_rejected_with_its_row(site: ImportSite) -> None:
    rows = many_rows(4)
    rows[1]["address"] = "x" * 200_000
    result = site.import_(site.write("people.csv", csv_text(*rows)))

    assert result.exit_code == 1
    assert "imported 3 row(s); rejected 1" in result.output
    assert_reported(result, 3, "(record)", "longer than")
    assert site.case_ids() == {"C-0", "C-2", "C-3"}


def test_an_unclosed_quote_loses_no_row_after_its_record(site: ImportSite) -> None:
    text = csv_text(*many_rows(3)) + 'P-9,"Runaway,en\n' + csv_text(*many_rows(3000)[3:])[100:]
    lines = text.splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    text = header + "".join(body[:3]) + 'P-9,"Runaway quote,en\n' + "".join(body[3 + 1 :])
    result = site.import_(site.write("people.csv", text))

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    kept = site.case_ids()
    assert {"C-0", "C-1", "C-2"} <= kept
    reported = {int(line.split(":")[0].split()[1]) for line in error_lines(result)}
    summary = re.search(r"imported (\d+) row\(s\); rejected (\d+)", result.output)
    assert summary is not None
    assert (int(summary[1]), int(summary[2])) == (len(kept), len(reported))
    assert "C-2999" in kept, "rows after the runaway record are read again"


@pytest.mark.parametrize(
    ("zone", "message"),
    [("America", "not a known time zone"), ("Europe/" + "x" * 300, "longer than 64")],
)
def test_time_zones_that_are_folders_or_too_long_are_row_errors(
    site: ImportSite, zone: str, message: str
) -> None:
    rows = many_rows(2)
    rows[0]["timezone"] = zone
    result = site.import_(site.write("people.csv", csv_text(*rows)))

    assert result.exit_code == 1
    assert_reported(result, 2, "timezone", message)
    assert site.case_ids() == {"C-1"}


@pytest.mark.parametrize("amount", ["1e999999999999", "1E+3", "12.34567", "1" * 16, "0x10"])
def test_amounts_are_bounded_as_the_api_bounds_them(site: ImportSite, amount: str) -> None:
    rows = many_rows(2)
    rows[0]["amount"] = amount
    result = site.import_(site.write("people.csv", csv_text(*rows)))

    assert result.exit_code == 1
    assert_reported(result, 2, "amount", "not a positive amount")
    assert site.case_ids() == {"C-1"}


@pytest.mark.parametrize(
    "bad_id",
    ["C-1\nX", "C 1", "C'1", "../C1", "C\x1b[31m1", "C" * 129, "-C1", "Ç-1"],
)
def test_ids_follow_the_one_pattern(site: ImportSite, bad_id: str) -> None:
    good = row("P-1", "C-good", "Ann Good", phone="+442079460001")
    lines = [json.dumps(good), json.dumps({**good, "case_id": bad_id, "person_id": "P-2"})]
    lines.append(json.dumps({**good, "case_id": "C-3", "person_id": bad_id}))
    result = site.import_(site.write("people.jsonl", "\n".join(lines) + "\n"))

    assert result.exit_code == 1
    # "not an id", or the more precise "longer than" / "holds control characters".
    assert_reported(result, 2, "case_id")
    assert_reported(result, 3, "person_id")
    assert "\x1b" not in result.output
    assert site.case_ids() == {"C-good"}


def test_the_id_rule_is_anchored_at_the_very_end() -> None:
    # A cell's surrounding blanks are trimmed as every cell's are; the rule itself, as the API
    # applies it to a path, lets no final newline through (Python's $ would).
    assert is_id("C-1") and is_id("a" * 128)
    assert not is_id("C-1\n") and not is_id("a" * 129) and not is_id("")


def test_json_lines_that_cannot_be_rows_are_row_errors(site: ImportSite) -> None:
    good = row("P-1", "C-1", "Ann Good", phone="+442079460001")
    lines = [
        '{"amount": ' + "9" * 5000 + "}",  # past Python's integer-to-text limit
        "[" * 100_000 + "]" * 100_000,  # deeper than any parser's stack (and over the limit)
        '{"person_id": ' + "[" * 5000 + "]" * 5000 + "}",  # deep, within the size limit
        json.dumps({**good, "case_id": "C-2", "name": "\ud800"}),  # a lone surrogate
        json.dumps({**good, "case_id": "C-3", "name": {"first": "Ann"}}),  # not a text value
        "[1, 2, 3]",
        '"just text"',
        "42",
        "null",
        json.dumps({**good, "case_id": "C-4", "amount": 10**20}),
        json.dumps(good),
    ]
    result = site.import_(site.write("people.jsonl", "\n".join(lines) + "\n"))

    assert result.exit_code == 1, result.output
    assert "imported 1 row(s); rejected 10" in result.output
    reported = {int(line.split(":")[0].split()[1]) for line in error_lines(result)}
    assert reported == set(range(1, 11))
    assert_reported(result, 4, "name", "not text")
    assert_reported(result, 5, "name", "not a text value")
    assert_reported(result, 10, "amount", "not a positive amount")
    assert site.case_ids() == {"C-1"}


def test_the_progress_total_is_reached_with_multiline_records(site: ImportSite) -> None:
    rows = many_rows(50)
    for each in rows:
        each["address"] = "1 Elm Street\nLondon\nUK"
    result = site.import_(site.write("people.csv", csv_text(*rows)))

    assert result.exit_code == 0, result.output
    progress = [line for line in result.output.splitlines() if line.startswith("importing")]
    done, total = re.findall(r"([\d.]+)/([\d.]+) kB", progress[-1])[0]
    assert done == total, progress[-1]


def test_a_case_of_another_person_is_refused_and_the_rest_kept(site: ImportSite) -> None:
    first = csv_text(row("P-1", "C-1", "Ann Good", phone="+442079460001", amount="50"))
    assert site.import_(site.write("first.csv", first)).exit_code == 0
    second = csv_text(
        row("P-2", "C-2", "Bob Good", phone="+442079460002"),
        row("P-3", "C-1", "Eve Taker", phone="+442079460003", amount="1"),
        row("P-4", "C-4", "Cid Good", phone="+442079460004"),
    )
    result = site.import_(site.write("second.csv", second))

    assert result.exit_code == 1
    assert "imported 2 row(s); rejected 1" in result.output
    assert_reported(result, 3, "case_id", "belongs to another person")
    store = open_store(site.url)
    try:
        case = store.get_case("C-1")
        assert case is not None and (case.person_id, case.amount) == ("P-1", "50")
        assert store.get_person("P-3") is None, "nothing of the refused row is written"
        assert store.get_case("C-2") is not None and store.get_case("C-4") is not None
    finally:
        store.close()


def test_rows_checked_by_worker_processes_give_the_same_import(site: ImportSite) -> None:
    rows = many_rows(2500)
    rows[1200]["amount"] = "-1"
    rows[2400]["case_id"] = "C-7"  # given again: the first row keeps it
    text = csv_text(*rows)
    result = site.import_(site.write("people.csv", text), "--jobs", "2", "--chunk", "700")

    assert result.exit_code == 1, result.output
    assert "imported 2498 row(s); rejected 2" in result.output
    assert [line.split(":")[0] for line in error_lines(result)] == ["row 1202", "row 2402"]
    assert_reported(result, 2402, "case_id", "already given in row 9")
    assert len(site.case_ids()) == 2498 and "C-1200" not in site.case_ids()
