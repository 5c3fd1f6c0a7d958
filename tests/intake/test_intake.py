"""`dispatcher import` through the real CLI on a real SQLite file, and `parse_row` alone."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result

from dispatcher.intake import FIELDS, GoodRow, RowError, parse_row
from dispatcher.model import CaseState, ContactKind, Person
from dispatcher.store import open_store
from tests.intake.conftest import ImportSite

CSV_COLUMNS = FIELDS
# What most rows share; each row states only what it is about.
BLANK_ROW = {
    "locale": "en",
    "timezone": "Europe/London",
    "phone": "",
    "email": "",
    "address": "",
    "amount": "50",
    "currency": "GBP",
    "due_date": "2026-10-01",
    "schedule": "standard",
    "state": "open",
}


def row(person_id: str, case_id: str, name: str, **fields: str) -> dict[str, str]:
    return {**BLANK_ROW, "person_id": person_id, "case_id": case_id, "name": name, **fields}


def csv_text(*rows: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def error_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if re.match(r"row \d+: ", line)]


def assert_reported(result: Result, row: int, field: str, fragment: str = "") -> None:
    lines = [line for line in error_lines(result) if line.startswith(f"row {row}: {field}: ")]
    assert lines, f"no error for row {row} field {field} in:\n{result.output}"
    assert any(fragment in line for line in lines), lines


def assert_not_shown(result: Result, *values: str) -> None:
    flat = re.sub(r"\s+", "", result.output)
    for value in values:
        assert value not in result.output
        assert re.sub(r"\s+", "", value) not in flat
        digits = re.sub(r"\D", "", value)
        if value.lstrip().startswith("+"):
            assert f"+{digits}" not in flat


def contact_set(person: Person) -> set[tuple[ContactKind, str]]:
    return {(c.kind, c.value) for c in person.contacts}


# Spreadsheet row numbers: the header is row 1.
MIXED_CSV = csv_text(
    # 2: good; a display-formatted number, two emails, an escaped line break, lower-case currency
    row(
        "P-A1",
        "C-A1",
        "Ann Good",
        timezone="America/New_York",
        phone="+1 (212) 555-0142",
        email="ann@example.com;ann.work@example.com",
        address="1 Elm Street\\nNew York, NY",
        amount="120.50",
        currency="usd",
    ),
    # 3: bad phone (no such area code)
    row("P-B1", "C-B1", "Bob Bad", phone="+1 999 555 0123", email="bob.b@example.com"),
    # 4: bad email
    row("P-B2", "C-B2", "Carol Bad", phone="+12125550144", email="carol.bad@nowhere"),
    # 5: bad date
    row("P-B3", "C-B3", "Dan Bad", phone="+12125550146", due_date="2026-02-30"),
    # 6: unknown time zone
    row("P-B4", "C-B4", "Eve Bad", phone="+12125550147", timezone="Mars/Olympus"),
    # 7: negative amount
    row("P-B5", "C-B5", "Fay Bad", phone="+442079460011", amount="-12.50"),
    # 8: unknown schedule
    row("P-B6", "C-B6", "Gus Bad", phone="+442079460012", schedule="weekly"),
    # 9: required field missing
    row("P-B7", "C-B7", "", phone="+442079460013"),
    # 10: case id already given in row 2
    row("P-B8", "C-A1", "Hal Dup", phone="+442079460014", email="hal@example.com"),
    # 11: good; Chinese mobile, gentle ladder, payment plan
    row(
        "P-A2",
        "C-A2",
        "王芳",
        locale="zh-CN",
        timezone="Asia/Shanghai",
        phone="+86 131 2345 6789",
        email="wang.fang@example.cn",
        address="上海市示例区幸福路1号",
        amount="3000",
        currency="CNY",
        due_date="2026-11-15",
        schedule="gentle",
        state="plan",
    ),
)
BAD_CSV_CONTACTS = (
    "+1 999 555 0123",
    "bob.b@example.com",
    "+12125550144",
    "carol.bad@nowhere",
    "+12125550146",
    "+12125550147",
    "+442079460011",
    "+442079460012",
    "+442079460013",
    "+442079460014",
    "hal@example.com",
)


def test_mixed_csv_reports_each_bad_row_and_keeps_the_good_ones(site: ImportSite) -> None:
    result = site.import_(site.write("people.csv", MIXED_CSV))

    assert result.exit_code == 1, result.output
    assert "imported 2 row(s); rejected 8" in result.output
    assert_reported(result, 3, "phone", "not a valid phone number")
    assert_reported(result, 4, "email", "not an email address")
    assert_reported(result, 5, "due_date", "'2026-02-30'")
    assert_reported(result, 6, "timezone", "'Mars/Olympus'")
    assert_reported(result, 7, "amount", "'-12.50'")
    assert_reported(result, 8, "schedule", "'weekly'")
    assert_reported(result, 9, "name", "required")
    assert_reported(result, 10, "case_id", "row 2")
    reported_rows = {int(line.split(":")[0].split()[1]) for line in error_lines(result)}
    assert reported_rows == set(range(3, 11))

    store = open_store(site.url)
    try:
        ann = store.get_person("P-A1")
        assert ann is not None and ann.name == "Ann Good"
        assert ann.timezone == "America/New_York"
        assert contact_set(ann) == {
            (ContactKind.PHONE, "+12125550142"),
            (ContactKind.EMAIL, "ann@example.com"),
            (ContactKind.EMAIL, "ann.work@example.com"),
            (ContactKind.POSTAL, "1 Elm Street\nNew York, NY"),
        }
        case = store.get_case("C-A1")
        assert case is not None
        assert (case.person_id, case.currency, case.due_date, case.schedule, case.state) == (
            "P-A1",
            "USD",
            date(2026, 10, 1),
            "standard",
            CaseState.OPEN,
        )
        assert float(case.amount) == 120.5
        wang = store.get_person("P-A2")
        assert wang is not None and wang.locale == "zh-CN"
        assert (ContactKind.PHONE, "+8613123456789") in contact_set(wang)
        plan = store.get_case("C-A2")
        assert plan is not None and plan.state is CaseState.PLAN and plan.schedule == "gentle"
        for number in range(1, 9):
            assert store.get_case(f"C-B{number}") is None
            assert store.get_person(f"P-B{number}") is None
    finally:
        store.close()


def test_contact_points_of_rejected_rows_are_never_shown_in_full(site: ImportSite) -> None:
    result = site.import_(site.write("people.csv", MIXED_CSV))

    assert result.exit_code == 1
    assert_not_shown(result, *BAD_CSV_CONTACTS)
    # The offending values are still identifiable by their masked form.
    assert_reported(result, 3, "phone", "23)")
    assert_reported(result, 4, "email", "c***@nowhere")


MIXED_JSONL = "\n".join(
    [
        # 1: good; lists of phones and emails
        json.dumps(
            {
                "person_id": "P-J1",
                "name": "Isla Good",
                "locale": "en",
                "timezone": "Europe/London",
                "phone": ["+44 20 7946 0018", "+61 491 570 110"],
                "email": ["isla@example.com"],
                "address": "2 Mill Lane\\nLondon",
                "case_id": "C-J1",
                "amount": "75.25",
                "currency": "GBP",
                "due_date": "2026-11-01",
                "schedule": "standard",
            }
        ),
        # 2: malformed JSON
        '{"person_id": "P-J2", "name": "Broken", "phone": "+442079460021"',
        # 3: valid JSON, not an object
        '["P-J3", "Not An Object", "+442079460022"]',
        # 4: unknown column
        json.dumps(
            {
                "person_id": "P-J4",
                "name": "Jo Extra",
                "nickname": "Jo",
                "phone": "+442079460023",
                "case_id": "C-J4",
                "amount": "10",
                "currency": "GBP",
                "due_date": "2026-11-01",
                "schedule": "standard",
            }
        ),
        # 5: a blank line still counts as a line
        "",
        # 6: bad phone and a good email in the same row
        json.dumps(
            {
                "person_id": "P-J6",
                "name": "Kit Bad",
                "phone": "+44 20 7946",
                "email": "kit.bad@example.com",
                "case_id": "C-J6",
                "amount": "10",
                "currency": "GBP",
                "due_date": "2026-11-01",
                "schedule": "standard",
            }
        ),
        # 7: good, no time zone, locale from the fallback
        json.dumps(
            {
                "person_id": "P-J7",
                "name": "Lee Good",
                "phone": "+4930 23125 042",
                "case_id": "C-J7",
                "amount": 99.5,
                "currency": "EUR",
                "due_date": "2026-10-20",
                "schedule": "gentle",
            }
        ),
    ]
)


def test_mixed_jsonl_reports_each_bad_line_and_keeps_the_good_ones(
    site: ImportSite,
) -> None:
    result = site.import_(site.write("people.jsonl", MIXED_JSONL + "\n"))

    assert result.exit_code == 1, result.output
    assert "imported 2 row(s); rejected 4" in result.output
    assert_reported(result, 2, "(line)", "not valid JSON")
    assert_reported(result, 3, "(line)", "not a JSON object")
    assert_reported(result, 4, "nickname", "unknown column")
    assert_reported(result, 6, "phone", "not a valid phone number")
    assert {line.split(":")[0] for line in error_lines(result)} == {
        "row 2",
        "row 3",
        "row 4",
        "row 6",
    }
    assert_not_shown(
        result, "+442079460021", "+442079460022", "+442079460023", "kit.bad@example.com"
    )
    assert "+44 20 7946" not in result.output

    store = open_store(site.url)
    try:
        isla = store.get_person("P-J1")
        assert isla is not None
        assert contact_set(isla) == {
            (ContactKind.PHONE, "+442079460018"),
            (ContactKind.PHONE, "+61491570110"),
            (ContactKind.EMAIL, "isla@example.com"),
            (ContactKind.POSTAL, "2 Mill Lane\nLondon"),
        }
        lee = store.get_person("P-J7")
        assert lee is not None and lee.timezone is None and lee.locale == "en"
        assert contact_set(lee) == {(ContactKind.PHONE, "+493023125042")}
        case = store.get_case("C-J7")
        assert case is not None and case.schedule == "gentle" and case.state is CaseState.OPEN
        assert float(case.amount) == 99.5
        for case_id in ("C-J4", "C-J6"):
            assert store.get_case(case_id) is None
    finally:
        store.close()


LI_JING = {
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
    "phone": "+86 131 2345 0001",
    "email": "li.jing@example.cn",
    "currency": "CNY",
}
GOOD_CSV = csv_text(
    row(
        "P-G1",
        "C-G1",
        "Amelia Taylor",
        phone="+44 20 7946 0031;+442079460032",
        email="amelia@example.com",
        address="3 Station Road\\nLondon",
        amount="250.00",
        schedule="gentle",
    ),
    row("P-G2", "C-G2", "李静", **LI_JING, amount="800", due_date="2026-11-02"),
    row("P-G2", "C-G3", "李静", **LI_JING, amount="120", schedule="gentle"),
    row(
        "P-G3",
        "C-G4",
        "Noah Kelly",
        timezone="",
        phone="+61 491 570 006",
        currency="AUD",
        state="hardship",
    ),
)


def test_a_file_of_good_rows_exits_zero(site: ImportSite) -> None:
    result = site.import_(site.write("good.csv", GOOD_CSV))

    assert result.exit_code == 0, result.output
    assert "imported 4 row(s); rejected 0" in result.output
    assert error_lines(result) == []
    store = open_store(site.url)
    try:
        li = store.get_person("P-G2")
        assert li is not None and li.name == "李静"
        assert {c.person_id for c in (store.get_case("C-G2"), store.get_case("C-G3")) if c} == {
            "P-G2"
        }
        noah = store.get_person("P-G3")
        assert noah is not None and noah.timezone is None
        hardship = store.get_case("C-G4")
        assert hardship is not None and hardship.state is CaseState.HARDSHIP
    finally:
        store.close()


def test_phone_numbers_are_stored_in_e164(site: ImportSite) -> None:
    result = site.import_(site.write("good.csv", GOOD_CSV))

    assert result.exit_code == 0, result.output
    store = open_store(site.url)
    try:
        phones = {
            pid: [c.value for c in person.contacts if c.kind is ContactKind.PHONE]
            for pid in ("P-G1", "P-G2", "P-G3")
            if (person := store.get_person(pid)) is not None
        }
    finally:
        store.close()
    assert sorted(phones["P-G1"]) == ["+442079460031", "+442079460032"]
    assert phones["P-G2"] == ["+8613123450001"]
    assert phones["P-G3"] == ["+61491570006"]
    for values in phones.values():
        assert all(re.fullmatch(r"\+[1-9]\d{6,14}", v) for v in values)


def test_region_option_reads_national_numbers(site: ImportSite) -> None:
    file = site.write(
        "national.csv",
        csv_text(row("P-N1", "C-N1", "Mary Smith", phone="(212) 555-0145", schedule="", state="")),
    )

    without = site.import_(file, "--schedule", "standard")
    assert without.exit_code == 1
    assert_reported(without, 2, "phone", "not a valid phone number")

    result = site.import_(file, "--schedule", "standard", "--region", "US")
    assert result.exit_code == 0, result.output
    store = open_store(site.url)
    try:
        mary = store.get_person("P-N1")
        case = store.get_case("C-N1")
    finally:
        store.close()
    assert mary is not None and contact_set(mary) == {(ContactKind.PHONE, "+12125550145")}
    assert case is not None and case.schedule == "standard"


def test_reimporting_the_same_file_is_idempotent(site: ImportSite) -> None:
    file = site.write("good.csv", GOOD_CSV)

    first = site.import_(file)
    store = open_store(site.url)
    try:
        before = {pid: store.get_person(pid) for pid in ("P-G1", "P-G2", "P-G3")}
        cases_before = {cid: store.get_case(cid) for cid in ("C-G1", "C-G2", "C-G3", "C-G4")}
    finally:
        store.close()
    second = site.import_(file)

    assert first.exit_code == second.exit_code == 0
    assert "imported 4 row(s); rejected 0" in second.output
    store = open_store(site.url)
    try:
        for pid, person in before.items():
            again = store.get_person(pid)
            assert person is not None and again is not None
            assert len(again.contacts) == len(person.contacts)
            assert sorted(again.contacts, key=lambda c: c.id) == sorted(
                person.contacts, key=lambda c: c.id
            )
        for cid, case in cases_before.items():
            assert store.get_case(cid) == case
    finally:
        store.close()


def test_reimporting_a_mixed_file_gives_the_same_report(site: ImportSite) -> None:
    file = site.write("people.csv", MIXED_CSV)

    first = site.import_(file)
    second = site.import_(file)

    assert first.exit_code == second.exit_code == 1
    assert error_lines(first) == error_lines(second)
    assert "imported 2 row(s); rejected 8" in second.output
    store = open_store(site.url)
    try:
        ann = store.get_person("P-A1")
        assert ann is not None and len(ann.contacts) == 4
    finally:
        store.close()


def test_csv_row_numbers_match_the_spreadsheet_when_a_cell_spans_lines(
    site: ImportSite,
) -> None:
    # Spreadsheets export a cell with a line break as a quoted field over two physical lines;
    # the row an admin sees is still one row.
    text = csv_text(
        row("P-M1", "C-M1", "Ann Multi", phone="+12125550150", address="1 Elm Street\nNew York"),
        row("P-M2", "C-M2", "Bob Multi", phone="+12125550151", amount="-1"),
    )
    assert text.count("\n") == 4  # header, two rows, one of them over two lines
    result = site.import_(site.write("multi.csv", text))

    assert result.exit_code == 1
    assert [line.split(":")[0] for line in error_lines(result)] == ["row 3"]
    store = open_store(site.url)
    try:
        ann = store.get_person("P-M1")
    finally:
        store.close()
    assert ann is not None
    assert (ContactKind.POSTAL, "1 Elm Street\nNew York") in contact_set(ann)


def test_import_errors_are_one_per_line_when_output_is_piped(site: ImportSite) -> None:
    # What a cron job or the journal captures: no terminal, so no terminal width.
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dispatcher"),
            "--config",
            str(site.config),
            "import",
            str(site.write("people.csv", MIXED_CSV)),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
        timeout=120,
    )

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    phone = [line for line in lines if line.startswith("row 3: phone: ")]
    assert len(phone) == 1
    # The whole message, masked value included, is on the row's line.
    assert phone[0].endswith("(got +*********23)"), "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# parse_row


def parse(values: dict[str, object], **options: object) -> GoodRow | list[RowError]:
    settings: dict[str, object] = {
        "schedules": ["standard", "gentle"],
        "default_schedule": None,
        "default_locale": "en",
        "default_region": None,
    }
    settings.update(options)
    return parse_row(7, values, **settings)  # type: ignore[arg-type]


GOOD_ROW: dict[str, object] = {
    "person_id": "P-1",
    "name": "Ann Good",
    "locale": "",
    "timezone": "",
    "phone": "+1 (212) 555-0142; +44 20 7946 0018",
    "email": "ann@example.com",
    "address": "1 Elm Street\\nNew York, NY",
    "case_id": "C-1",
    "amount": "120.50",
    "currency": "usd",
    "due_date": "2026-10-01",
    "schedule": "standard",
}


def errors_of(result: GoodRow | list[RowError]) -> dict[str, str]:
    assert isinstance(result, list), result
    return {error.field: error.message for error in result}


def test_parse_row_builds_person_and_case() -> None:
    result = parse(GOOD_ROW)

    assert isinstance(result, GoodRow)
    assert result.row == 7
    person, case = result.person, result.case
    assert person.id == "P-1" and person.name == "Ann Good"
    assert person.locale == "en"  # the default locale for a blank cell
    assert person.timezone is None
    assert person.phones == ("+12125550142", "+442079460018")
    assert person.emails == ("ann@example.com",)
    assert person.addresses == ("1 Elm Street\nNew York, NY",)
    assert (case.id, case.person_id, case.currency, case.schedule, case.state) == (
        "C-1",
        "P-1",
        "USD",
        "standard",
        "open",
    )
    assert case.due_date == date(2026, 10, 1)
    assert float(case.amount) == 120.5


def test_parse_row_accepts_json_lists_and_numbers() -> None:
    row = {**GOOD_ROW, "phone": ["+8613123456789"], "email": ["a@example.cn", "b@example.cn"]}
    row["amount"] = 42
    result = parse(row)

    assert isinstance(result, GoodRow)
    assert result.person.phones == ("+8613123456789",)
    assert result.person.emails == ("a@example.cn", "b@example.cn")
    assert float(result.case.amount) == 42


def test_parse_row_returns_every_error_of_a_row() -> None:
    row = {
        **GOOD_ROW,
        "timezone": "Mars/Olympus",
        "amount": "0",
        "currency": "DOLLARS",
        "locale": "English",
        "state": "gone",
        "due_date": "01/10/2026",
    }
    result = parse(row)

    assert set(errors_of(result)) == {
        "timezone",
        "amount",
        "currency",
        "locale",
        "state",
        "due_date",
    }
    assert isinstance(result, list) and all(error.row == 7 for error in result)


@pytest.mark.parametrize("amount", ["-1", "0", "abc", "NaN", "Infinity"])
def test_parse_row_rejects_amounts_that_are_not_positive_numbers(amount: str) -> None:
    assert "amount" in errors_of(parse({**GOOD_ROW, "amount": amount}))


@pytest.mark.parametrize(
    "field", ["person_id", "name", "case_id", "amount", "currency", "due_date"]
)
def test_parse_row_requires_fields(field: str) -> None:
    errors = errors_of(parse({**GOOD_ROW, field: "  "}))

    assert errors[field] == "required"


def test_parse_row_needs_a_contact_point() -> None:
    errors = errors_of(parse({**GOOD_ROW, "phone": "", "email": "", "address": ""}))

    assert "no contact point" in errors["phone"]


def test_parse_row_masks_a_bad_phone_number() -> None:
    errors = errors_of(parse({**GOOD_ROW, "phone": "+1 999 555 0123"}))

    for shown in ("+1 999 555 0123", "+19995550123", "9995550123"):
        assert shown not in errors["phone"]
    assert errors["phone"].endswith("(got +*********23)")


def test_parse_row_masks_a_bad_email() -> None:
    errors = errors_of(parse({**GOOD_ROW, "email": "ann.good@nowhere"}))

    assert "ann.good" not in errors["email"]
    assert "a***@nowhere" in errors["email"]


def test_parse_row_uses_the_default_region_for_national_numbers() -> None:
    row = {**GOOD_ROW, "phone": "(212) 555-0142"}

    assert "phone" in errors_of(parse(row))
    result = parse(row, default_region="US")
    assert isinstance(result, GoodRow) and result.person.phones == ("+12125550142",)


def test_parse_row_schedule_defaults_and_unknown_names() -> None:
    blank = {**GOOD_ROW, "schedule": ""}

    assert "required" in errors_of(parse(blank))["schedule"]
    with_default = parse(blank, default_schedule="gentle")
    assert isinstance(with_default, GoodRow) and with_default.case.schedule == "gentle"
    assert "unknown schedule" in errors_of(parse({**GOOD_ROW, "schedule": "weekly"}))["schedule"]
    # With no schedule list to check against, any name is taken.
    unchecked = parse({**GOOD_ROW, "schedule": "weekly"}, schedules=None)
    assert isinstance(unchecked, GoodRow) and unchecked.case.schedule == "weekly"


def test_parse_row_rejects_unknown_columns_but_takes_state() -> None:
    errors = errors_of(parse({**GOOD_ROW, "nickname": "Jo"}))
    assert errors == {"nickname": "unknown column"}

    result = parse({**GOOD_ROW, "state": "disputed"})
    assert isinstance(result, GoodRow) and result.case.state == "disputed"


def test_a_due_date_beyond_the_plannable_years_is_a_row_error_and_the_rest_imported(
    site: ImportSite,
) -> None:
    file = site.write(
        "far.csv",
        csv_text(
            row("P-F1", "C-F1", "Fay Near", phone="+12125550171", due_date="2026-10-01"),
            row("P-F2", "C-F2", "Gus Far", phone="+12125550172", due_date="9999-12-25"),
            row("P-F3", "C-F3", "Ida Early", phone="+12125550173", due_date="1969-12-31"),
        ),
    )
    result = site.import_(file)

    assert result.exit_code == 1, result.output
    assert_reported(result, 3, "due_date", "not between 1970-01-01 and 2199-12-31")
    assert_reported(result, 3, "due_date", "'9999-12-25'")
    assert_reported(result, 4, "due_date", "'1969-12-31'")
    assert site.case_ids() == {"C-F1"}


@pytest.mark.parametrize("due", ["1970-01-01", "2199-12-31"])
def test_parse_row_takes_the_bounds_of_the_plannable_years(due: str) -> None:
    result = parse({**GOOD_ROW, "due_date": due})

    assert isinstance(result, GoodRow) and result.case.due_date == date.fromisoformat(due)
