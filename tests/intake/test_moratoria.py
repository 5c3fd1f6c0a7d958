"""A Breathing Space moratorium in an import: the optional columns ``breathing_space``,
``breathing_space_start``, ``breathing_space_until`` and ``breathing_space_crisis_ends``
through the real CLI on a real SQLite file, recorded as the ``breathing-space`` event records
it, never twice, and each bad value refused with its row, field and value."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.intake import GoodRow
from dispatcher.intake.moratoria import MoratoriumIn
from dispatcher.model import BreathingSpace
from dispatcher.store import open_store
from tests.intake.conftest import ImportSite
from tests.intake.test_intake import GOOD_ROW, assert_reported, csv_text, errors_of, parse, row

LONDON = ZoneInfo("Europe/London")  # the zone of every row in csv_text's rows
DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LONDON).astimezone(UTC)


def _spaces(site: ImportSite, *case_ids: str) -> dict[str, BreathingSpace | None]:
    store = open_store(site.url)
    try:
        return {cid: store.get_case(cid).breathing_space for cid in case_ids}  # type: ignore[union-attr]
    finally:
        store.close()


def _moratorium_events(site: ImportSite, case_id: str) -> list[dict[str, object]]:
    store = open_store(site.url)
    try:
        events = store.case_history(case_id).events
    finally:
        store.close()
    return [e for e in events if str(e["kind"]).startswith("breathing-space")]


def _case(
    n: int, kind: str = "", start: object = "", until: object = "", ends: object = ""
) -> dict[str, str]:
    """Row ``n``: person P-n, case C-n, and the moratorium's cells."""
    cells = {
        "breathing_space": kind,
        "breathing_space_start": str(start),
        "breathing_space_until": str(until),
        "breathing_space_crisis_ends": str(ends),
    }
    return row(f"P-{n}", f"C-{n}", f"Person {n}", phone=f"+4420794600{10 + n}", **cells)


def test_an_import_records_the_moratorium_its_columns_give(site: ImportSite) -> None:
    today = date.today()
    start, ends = today - 10 * DAY, today + 5 * DAY
    text = csv_text(
        _case(1, start=start),  # standard from a date: 60 days on
        _case(2, "standard", until=today + 20 * DAY),  # standard with its end
        _case(3, "crisis"),  # a crisis without end yet, starting now
        _case(4, "crisis", start, ends=ends),  # its treatment ends: 30 days later
        _case(5),  # no moratorium
    )
    before = datetime.now(UTC)
    result = site.import_(site.write("spaces.csv", text))
    assert result.exit_code == 0, result.output
    assert "imported 5 row(s); rejected 0" in result.output
    spaces = _spaces(site, "C-1", "C-2", "C-3", "C-4", "C-5")
    assert spaces["C-1"] == BreathingSpace(_midnight(start), _midnight(start) + 60 * DAY, False)
    two = spaces["C-2"]
    assert two is not None and two.until == _midnight(today + 20 * DAY) and not two.crisis
    assert before <= two.start <= datetime.now(UTC)
    three = spaces["C-3"]
    assert three is not None and three.crisis and three.until is None
    assert spaces["C-4"] == BreathingSpace(_midnight(start), _midnight(ends) + 30 * DAY, True)
    assert spaces["C-5"] is None
    [event] = _moratorium_events(site, "C-4")
    assert event["kind"] == "breathing-space-crisis" and event["source"] == "import"

    explained = CliRunner().invoke(
        main, ["--config", str(site.config), "explain", "C-1"], env={"COLUMNS": "400"}
    )
    assert explained.exit_code == 0, explained.output
    assert f"a breathing space since {_midnight(start):%Y-%m-%d %H:%M} UTC" in explained.output
    assert "event breathing-space" in explained.output


def test_importing_the_file_again_records_no_second_moratorium(site: ImportSite) -> None:
    start = date.today() - 3 * DAY
    # No start: it starts at the first import, and the second finds it running.
    text = csv_text(_case(1, "standard"), _case(2, start=start), _case(3, "crisis"))
    file = site.write("spaces.csv", text)
    assert site.import_(file).exit_code == 0
    first = _spaces(site, "C-1", "C-2", "C-3")
    second = site.import_(file)
    assert second.exit_code == 0, second.output
    assert _spaces(site, "C-1", "C-2", "C-3") == first
    for case_id in ("C-1", "C-2", "C-3"):
        assert len(_moratorium_events(site, case_id)) == 1, case_id


def test_a_crisis_given_its_end_later_keeps_its_start(site: ImportSite) -> None:
    first = csv_text(_case(1, "crisis"))
    assert site.import_(site.write("a.csv", first)).exit_code == 0
    [started] = _spaces(site, "C-1").values()
    ends = date.today() + 4 * DAY
    later = csv_text(_case(1, "crisis", ends=ends))
    assert site.import_(site.write("b.csv", later)).exit_code == 0
    assert started is not None
    assert _spaces(site, "C-1")["C-1"] == BreathingSpace(
        started.start, _midnight(ends) + 30 * DAY, True
    )
    assert len(_moratorium_events(site, "C-1")) == 2


def test_bad_moratoria_are_refused_by_row_and_field_and_the_rest_kept(site: ImportSite) -> None:
    today = date.today()
    text = csv_text(
        _case(1, "weekly"),  # 2
        _case(2, start="01/12/2026"),  # 3
        _case(3, start=today + DAY),  # 4: starts tomorrow
        _case(4, until="2040-01-01"),  # 5: ends in 2040
        _case(5, "crisis", until=today + 9 * DAY),  # 6: a crisis ends by its treatment
        _case(6, start=today - 90 * DAY),  # 7: ended last month: nothing recorded, row kept
        _case(7, "standard"),  # 8
    )
    result = site.import_(site.write("bad.csv", text))
    assert result.exit_code == 1, result.output
    assert "imported 2 row(s); rejected 5" in result.output
    assert_reported(result, 2, "breathing_space", "not a kind of breathing space")
    assert_reported(result, 2, "breathing_space", "'weekly'")
    assert_reported(
        result, 3, "breathing_space_start", "not a date (YYYY-MM-DD) (got '01/12/2026')"
    )
    assert_reported(result, 4, "breathing_space_start", f"{today + DAY} is after now")
    assert_reported(result, 5, "breathing_space_until", "more than 10 years ahead")
    assert_reported(result, 6, "breathing_space_until", "give breathing_space_crisis_ends")
    assert "Traceback" not in result.output
    assert site.case_ids() == {"C-6", "C-7"}
    spaces = _spaces(site, "C-6", "C-7")
    assert spaces["C-6"] is None and spaces["C-7"] is not None


def test_a_row_without_moratorium_columns_gives_none() -> None:
    result = parse(GOOD_ROW)
    assert isinstance(result, GoodRow) and result.moratorium is None


def test_the_cells_are_read_as_the_event_reads_its_options() -> None:
    result = parse(
        {**GOOD_ROW, "breathing_space": "crisis", "breathing_space_crisis_ends": "2027-01-05"}
    )
    assert isinstance(result, GoodRow)
    assert result.moratorium == MoratoriumIn(True, None, None, date(2027, 1, 5))


@pytest.mark.parametrize(
    ("cells", "field", "words"),
    [
        ({"breathing_space_crisis_ends": "2027-01-05"}, "breathing_space_crisis_ends", "crisis"),
        (
            {"breathing_space_start": "2027-01-05", "breathing_space_until": "2027-01-05"},
            "breathing_space_until",
            "not after breathing_space_start (2027-01-05)",
        ),
        (
            {
                "breathing_space": "crisis",
                "breathing_space_start": "2027-03-01",
                "breathing_space_crisis_ends": "2027-01-05",
            },
            "breathing_space_crisis_ends",
            "would end before",
        ),
        ({"breathing_space_until": "9999-12-31"}, "breathing_space_until", "not between"),
        ({"breathing_space_start": "2027-02-30"}, "breathing_space_start", "not a date"),
    ],
)
def test_cells_that_mean_nothing_are_refused(cells: dict[str, str], field: str, words: str) -> None:
    errors = errors_of(parse({**GOOD_ROW, **cells}))
    assert words in errors[field], errors
