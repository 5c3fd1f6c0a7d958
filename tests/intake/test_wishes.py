"""The person's wishes in an import: the optional columns ``refuse``, ``contact_hours`` and
``language`` through the real CLI on a real SQLite file, and each bad value refused with its
row, field and value."""

from __future__ import annotations

from datetime import time

import pytest

from dispatcher.intake import GoodRow
from dispatcher.intake.wishes import parse_hours
from dispatcher.model import HourWish, Wishes
from dispatcher.store import open_store
from tests.intake.conftest import ImportSite
from tests.intake.test_intake import GOOD_ROW, assert_reported, csv_text, errors_of, parse, row

WEEKDAYS = frozenset(range(5))


def test_an_import_sets_the_wishes_its_columns_give(site: ImportSite) -> None:
    text = csv_text(
        row(
            "P-W1",
            "C-W1",
            "Ann",
            phone="+442079460018",
            refuse="sms; email",
            contact_hours="voice mon-fri not between 09:00-17:00;not before 10:00",
            language="zh-CN",
        ),
        row("P-W2", "C-W2", "Bo", phone="+442079460019"),
        row("P-W3", "C-W3", "Cy", phone="+442079460020", contact_hours="not before 25:00"),
        row("P-W4", "C-W4", "Di", phone="+442079460021", refuse="s m s"),
        row("P-W5", "C-W5", "Ed", phone="+442079460022", language="Chinese"),
    )
    result = site.import_(site.write("wishes.csv", text))
    assert result.exit_code == 1, result.output
    assert "imported 2 row(s); rejected 3" in result.output
    assert_reported(result, 4, "contact_hours", "'25:00' is not a time of day")
    assert_reported(result, 5, "refuse", "'s m s' is not a channel name")
    assert_reported(result, 6, "language", "'Chinese' is not a language")
    store = open_store(site.url)
    try:
        ann, bo = store.get_person("P-W1"), store.get_person("P-W2")
        assert ann is not None and bo is not None
        assert ann.wishes == Wishes(
            ("sms", "email"),
            (
                HourWish("not_between", time(9), time(17), "voice", WEEKDAYS),
                HourWish("not_before", time(10)),
            ),
            "zh-CN",
        )
        assert ann.wishes.source == "import" and ann.template_locale == "zh-CN"
        assert not bo.wishes
    finally:
        store.close()


def test_a_row_without_wish_columns_gives_no_wishes() -> None:
    result = parse(GOOD_ROW)
    assert isinstance(result, GoodRow) and result.person.wishes is None


def test_json_lists_are_read_as_the_csv_cells() -> None:
    result = parse({**GOOD_ROW, "refuse": ["sms"], "contact_hours": ["sat,sun not after 12:00"]})
    assert isinstance(result, GoodRow) and result.person.wishes is not None
    assert result.person.wishes.refused == ("sms",)
    assert result.person.wishes.hours == (
        HourWish("not_after", time(12), None, None, frozenset({5, 6})),
    )


@pytest.mark.parametrize(
    ("text", "wish"),
    [
        ("not before 10:00", HourWish("not_before", time(10))),
        ("voice not after 20:30", HourWish("not_after", time(20, 30), channel="voice")),
        ("* weekends not before 11:00", HourWish("not_before", time(11), days=frozenset({5, 6}))),
        (
            "sms fri-mon not between 22:00–08:00",
            HourWish("not_between", time(22), time(8), "sms", frozenset({4, 5, 6, 0})),
        ),
        (
            "weekdays not between 9:00 and 17:00",
            HourWish("not_between", time(9), time(17), days=WEEKDAYS),
        ),
    ],
)
def test_contact_hours_as_written(text: str, wish: HourWish) -> None:
    assert parse_hours(text) == wish


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("before 10:00", "say not before"),
        ("not before 10", "not a time of day"),
        ("not before 00:00", "restricts nothing"),
        ("not after 00:00", "refuse the channel instead"),
        ("not between 10:00-10:00", "is no span"),
        ("not between 10:00", "needs HH:MM-HH:MM"),
        ("sms someday not before 10:00", "'someday' is not a set of days"),
        ("sms mon-fri noon not before 10:00", "at most a channel and days"),
        ("voice not before 10:00", r"unknown channel 'voice' \(known: email, sms\)"),
        ("mon-funday not before 10:00", "not a set of days"),
    ],
)
def test_contact_hours_refused_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(text, channels=("email", "sms"))


def test_each_bad_wish_is_its_own_error() -> None:
    errors = errors_of(parse({**GOOD_ROW, "contact_hours": "not before 9", "language": "xx_YY"}))
    assert "not a time of day" in errors["contact_hours"] and "'9'" in errors["contact_hours"]
    assert "'xx_YY' is not a language" in errors["language"]
