"""Allowed windows in the person's local time: edges, weekdays, midnight and DST changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from dispatcher.policy.windows import day_intervals, describe_closed, next_opening, open_interval
from tests.policy.conftest import (
    DAYTIME,
    LONDON,
    LOS_ANGELES,
    NEW_YORK,
    SHANGHAI,
    ZONE_DAYS,
    compiled_windows,
    local,
    local_on,
    window,
)

MON_FRI = compiled_windows(window("08:00", "21:00", days="mon-fri"))


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize(
    ("clock", "is_open"),
    [
        (time(7, 59, 59), False),
        (time(8, 0), True),
        (time(14, 0), True),
        (time(20, 59), True),
        (time(20, 59, 59), True),
        (time(21, 0), False),
        (time(23, 30), False),
        (time(3, 0), False),
    ],
)
def test_daytime_window_is_open_exactly_from_eight_to_nine_local(
    zone: str, day: date, clock: time, is_open: bool
) -> None:
    windows = compiled_windows(DAYTIME)
    interval = open_interval(windows, zone, local_on(zone, day, clock))
    if is_open:
        assert interval == (local_on(zone, day, time(8)), local_on(zone, day, time(21)))
    else:
        assert interval is None


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_daytime_window_keeps_its_wall_clock_hours_on_every_day(zone: str, day: date) -> None:
    # The clocks change at night, so 08:00–21:00 stays 13 real hours even on DST days.
    ((start, end),) = day_intervals(compiled_windows(DAYTIME), zone, day)
    assert start == local_on(zone, day, time(8))
    assert end - start == timedelta(hours=13)


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize(
    ("after_day", "after_clock"),
    [
        (-1, time(21, 0)),  # across the night the clocks change in
        (-1, time(23, 59)),
        (0, time(0, 0)),
        (0, time(7, 59)),
    ],
)
def test_next_opening_is_eight_local_on_the_right_date(
    zone: str, day: date, after_day: int, after_clock: time
) -> None:
    windows = compiled_windows(DAYTIME)
    after = local_on(zone, day + timedelta(days=after_day), after_clock)
    assert open_interval(windows, zone, after) is None
    assert next_opening(windows, zone, after) == (
        local_on(zone, day, time(8)),
        local_on(zone, day, time(21)),
    )


def test_next_opening_is_strictly_after_the_instant() -> None:
    windows = compiled_windows(DAYTIME)
    eight = local(NEW_YORK, 2026, 6, 10, 8)
    assert next_opening(windows, NEW_YORK, eight) == (
        local(NEW_YORK, 2026, 6, 11, 8),
        local(NEW_YORK, 2026, 6, 11, 21),
    )


# -- spring forward: 2026-03-08 02:00 EST jumps to 03:00 EDT in New York ------------------

GAP_END = local(NEW_YORK, 2026, 3, 8, 3, 0)  # 03:00 EDT, the first instant after the gap
SPRING = date(2026, 3, 8)


def test_window_starting_in_the_spring_gap_never_opens_before_the_gap_ends() -> None:
    windows = compiled_windows(window("02:30", "05:00"))
    ((start, end),) = day_intervals(windows, NEW_YORK, SPRING)
    assert start >= GAP_END
    assert end == local(NEW_YORK, 2026, 3, 8, 5, 0)
    before_gap = local(NEW_YORK, 2026, 3, 8, 1, 59, 59)
    assert open_interval(windows, NEW_YORK, before_gap) is None
    assert open_interval(windows, NEW_YORK, GAP_END - timedelta(seconds=1)) is None
    assert next_opening(windows, NEW_YORK, before_gap) == (start, end)


def test_window_starting_in_the_spring_gap_opens_at_the_end_of_the_gap() -> None:
    # docs/config.md: "a start that falls in the spring-forward gap opens at the end of the
    # gap": 03:00 EDT, not 03:30 EDT.
    windows = compiled_windows(window("02:30", "05:00"))
    ((start, _end),) = day_intervals(windows, NEW_YORK, SPRING)
    assert start == GAP_END
    assert open_interval(windows, NEW_YORK, GAP_END) is not None


def test_window_starting_at_the_gap_opens_when_the_clocks_jump() -> None:
    windows = compiled_windows(window("02:00", "05:00"))
    ((start, _end),) = day_intervals(windows, NEW_YORK, SPRING)
    assert start == GAP_END


@pytest.mark.parametrize(
    ("zone", "day", "gap_hour", "gap_end"),
    [
        (NEW_YORK, date(2026, 3, 8), 2, local(NEW_YORK, 2026, 3, 8, 3)),
        (LOS_ANGELES, date(2026, 3, 8), 2, local(LOS_ANGELES, 2026, 3, 8, 3)),
        (LONDON, date(2026, 3, 29), 1, local(LONDON, 2026, 3, 29, 2)),
    ],
)
def test_no_window_opens_inside_a_spring_gap(
    zone: str, day: date, gap_hour: int, gap_end: datetime
) -> None:
    for minute in range(0, 60, 5):
        windows = compiled_windows(window(f"{gap_hour:02d}:{minute:02d}", "06:00"))
        ((start, _end),) = day_intervals(windows, zone, day)
        assert start >= gap_end


# -- fall back: 2026-11-01 02:00 EDT back to 01:00 EST; 01:00–02:00 happens twice -----------


def test_ambiguous_autumn_start_takes_the_first_occurrence() -> None:
    windows = compiled_windows(window("01:30", "05:00"))
    first = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    second = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    ((start, end),) = day_intervals(windows, NEW_YORK, date(2026, 11, 1))
    assert start == first
    # Written 3h30, plus the repeated hour.
    assert end - start == timedelta(hours=4, minutes=30)
    assert open_interval(windows, NEW_YORK, first - timedelta(seconds=1)) is None
    assert open_interval(windows, NEW_YORK, first) == (start, end)
    assert open_interval(windows, NEW_YORK, second) == (start, end)


def test_ambiguous_autumn_start_in_london() -> None:
    windows = compiled_windows(window("01:30", "05:00"))
    ((start, _end),) = day_intervals(windows, LONDON, date(2026, 10, 25))
    assert start == local(LONDON, 2026, 10, 25, 1, 30, fold=0)
    assert start.hour == 0  # 01:30 BST is 00:30 UTC


def test_ambiguous_autumn_end_takes_the_first_occurrence() -> None:
    # A window running past midnight into the repeated hour ends at its first occurrence,
    # so it is never longer than written plus the hour the clocks fall back.
    windows = compiled_windows(window("22:00", "01:30"))
    ((start, end),) = day_intervals(windows, NEW_YORK, date(2026, 10, 31))
    assert start == local(NEW_YORK, 2026, 10, 31, 22)
    assert end == local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    second_0115 = local(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)
    assert open_interval(windows, NEW_YORK, second_0115) is None


def test_window_over_the_autumn_night_gains_the_repeated_hour() -> None:
    windows = compiled_windows(window("22:00", "02:00"))
    ((start, end),) = day_intervals(windows, NEW_YORK, date(2026, 10, 31))
    assert end == local(NEW_YORK, 2026, 11, 1, 2)
    assert end - start == timedelta(hours=5)


# -- windows that cross midnight belong to the day they start on ----------------------------

NIGHT = window("22:00", "02:00")


@pytest.mark.parametrize(
    ("day", "clock", "started_on"),
    [
        (date(2026, 6, 10), time(23, 30), date(2026, 6, 10)),
        (date(2026, 6, 11), time(1, 30), date(2026, 6, 10)),
        (date(2026, 6, 10), time(22, 0), date(2026, 6, 10)),
        (date(2026, 6, 11), time(1, 59, 59), date(2026, 6, 10)),
        (date(2026, 6, 11), time(2, 0), None),
        (date(2026, 6, 10), time(21, 59), None),
        (date(2026, 6, 10), time(12, 0), None),
    ],
)
@pytest.mark.parametrize("zone", [NEW_YORK, SHANGHAI])
def test_window_across_midnight(zone: str, day: date, clock: time, started_on: date | None) -> None:
    windows = compiled_windows(NIGHT)
    interval = open_interval(windows, zone, local_on(zone, day, clock))
    if started_on is None:
        assert interval is None
    else:
        assert interval == (
            local_on(zone, started_on, time(22)),
            local_on(zone, started_on + timedelta(days=1), time(2)),
        )


@pytest.mark.parametrize(
    ("day", "clock", "started_on"),
    [
        # Saturday 01:30 is the tail of Friday's window: Friday is a listed day.
        (date(2026, 6, 13), time(1, 30), date(2026, 6, 12)),
        # Monday 01:30 would be the tail of Sunday's window, and Sunday is not listed.
        (date(2026, 6, 15), time(1, 30), None),
        (date(2026, 6, 13), time(23, 30), None),  # Saturday's own window does not exist
        (date(2026, 6, 12), time(23, 30), date(2026, 6, 12)),
        (date(2026, 6, 15), time(23, 30), date(2026, 6, 15)),
    ],
)
def test_window_across_midnight_belongs_to_the_day_it_starts_on(
    day: date, clock: time, started_on: date | None
) -> None:
    windows = compiled_windows(window("22:00", "02:00", days="mon-fri"))
    interval = open_interval(windows, NEW_YORK, local_on(NEW_YORK, day, clock))
    if started_on is None:
        assert interval is None
    else:
        assert interval is not None
        assert interval[0] == local_on(NEW_YORK, started_on, time(22))


def test_next_opening_of_a_weekday_night_window_from_monday_morning() -> None:
    windows = compiled_windows(window("22:00", "02:00", days="mon-fri"))
    monday_0130 = local(NEW_YORK, 2026, 6, 15, 1, 30)
    opening = next_opening(windows, NEW_YORK, monday_0130)
    assert opening is not None
    assert opening[0] == local(NEW_YORK, 2026, 6, 15, 22)


# -- weekdays, unions, whole days --------------------------------------------------------------


@pytest.mark.parametrize(
    "after",
    [
        local(NEW_YORK, 2026, 6, 12, 21, 0),  # Friday evening
        local(NEW_YORK, 2026, 6, 13, 10, 0),  # Saturday
        local(NEW_YORK, 2026, 6, 14, 23, 0),  # Sunday night
    ],
)
def test_weekday_window_skips_the_weekend(after: datetime) -> None:
    assert open_interval(MON_FRI, NEW_YORK, after) is None
    opening = next_opening(MON_FRI, NEW_YORK, after)
    assert opening is not None
    assert opening[0] == local(NEW_YORK, 2026, 6, 15, 8)


def test_several_windows_are_a_union() -> None:
    windows = compiled_windows(window("08:00", "12:00"), window("13:00", "20:00"))
    assert open_interval(windows, SHANGHAI, local(SHANGHAI, 2026, 6, 10, 11, 59)) is not None
    lunch = local(SHANGHAI, 2026, 6, 10, 12, 30)
    assert open_interval(windows, SHANGHAI, lunch) is None
    opening = next_opening(windows, SHANGHAI, lunch)
    assert opening == (local(SHANGHAI, 2026, 6, 10, 13), local(SHANGHAI, 2026, 6, 10, 20))


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 6, 10), 24), (date(2026, 3, 8), 23), (date(2026, 11, 1), 25)],
)
def test_window_to_midnight_covers_the_whole_local_day(day: date, hours: int) -> None:
    windows = compiled_windows(window("00:00", "24:00"))
    ((start, end),) = day_intervals(windows, NEW_YORK, day)
    assert start == local_on(NEW_YORK, day, time(0))
    assert end == local_on(NEW_YORK, day + timedelta(days=1), time(0))
    assert end - start == timedelta(hours=hours)
    assert open_interval(windows, NEW_YORK, end - timedelta(microseconds=1)) is not None
    assert open_interval(windows, NEW_YORK, end) is not None  # the next day's window


# -- the reason text ---------------------------------------------------------------------------


def test_closed_text_names_local_time_zone_window_and_next_opening() -> None:
    windows = compiled_windows(DAYTIME)
    at = local(SHANGHAI, 2026, 6, 10, 22, 40)
    text = describe_closed(windows, SHANGHAI, at, next_opening(windows, SHANGHAI, at))
    assert "22:40 Asia/Shanghai" in text
    assert "08:00–21:00" in text
    assert "next window 08:00 tomorrow" in text


def test_closed_text_before_opening_names_today() -> None:
    windows = compiled_windows(DAYTIME)
    at = local(SHANGHAI, 2026, 6, 10, 7, 15)
    text = describe_closed(windows, SHANGHAI, at, next_opening(windows, SHANGHAI, at))
    assert text.startswith("07:15 Asia/Shanghai")
    assert text.endswith("next window 08:00")


def test_closed_text_on_a_day_without_windows_names_the_date_of_the_next() -> None:
    at = local(LONDON, 2026, 6, 13, 10)  # Saturday
    text = describe_closed(MON_FRI, LONDON, at, next_opening(MON_FRI, LONDON, at))
    assert "10:00 Europe/London" in text
    assert "Sat" in text
    assert "Mon 2026-06-15 08:00" in text
