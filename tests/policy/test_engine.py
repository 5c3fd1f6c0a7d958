"""``decide``: windows with jitter, exempt channels, time zones, reasons, and rules combined."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactPoint,
    OptOut,
    Outcome,
    Person,
    Reminder,
    Verdict,
)
from dispatcher.policy import Policy, decide
from tests.policy.conftest import (
    CONTACTS,
    DAYTIME,
    LONDON,
    LOS_ANGELES,
    NEW_YORK,
    ONE_DAY,
    PHONE_1,
    POSTAL_1,
    SHANGHAI,
    ZONE_DAYS,
    codes,
    decide_at,
    is_open,
    limit,
    local,
    local_on,
    make_attempt,
    make_case,
    make_person,
    make_reminder,
    policy,
    wall,
    window,
)

JITTER = timedelta(minutes=20)
DAYTIME_POLICY = policy(windows=[DAYTIME], jitter="20m")


def assert_jittered_opening(until: datetime | None, zone: str, day: date) -> None:
    """``until`` is in the first 20 minutes after 08:00 local on ``day``."""
    assert until is not None
    opening = local_on(zone, day, time(8))
    assert opening <= until < opening + JITTER
    local_until = wall(until, zone)
    assert local_until.date() == day
    assert time(8) <= local_until.time() < time(8, 20)


# -- nothing is sent in a closed window ------------------------------------------------------


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_before_opening_defers_to_a_jittered_opening_the_same_day(zone: str, day: date) -> None:
    now = local_on(zone, day, time(7, 59))
    decision = decide_at(DAYTIME_POLICY, now, person=make_person(timezone=zone))
    assert decision.verdict is Verdict.DEFER
    assert_jittered_opening(decision.until, zone, day)
    assert codes(decision) == ["quiet_hours"]
    assert decision.contact == PHONE_1


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize("clock", [time(8, 0), time(12, 0), time(20, 59), time(20, 59, 59)])
def test_open_window_sends(zone: str, day: date, clock: time) -> None:
    now = local_on(zone, day, clock)
    decision = decide_at(DAYTIME_POLICY, now, person=make_person(timezone=zone))
    assert decision.verdict is Verdict.SEND
    assert decision.until is None
    assert decision.contact == PHONE_1


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize(
    ("days_before", "clock"),
    [(1, time(21, 0)), (1, time(23, 59)), (0, time(0, 30)), (0, time(3, 0))],
)
def test_closed_evening_and_night_defer_to_the_next_morning(
    zone: str, day: date, days_before: int, clock: time
) -> None:
    # The night before a clock change is the one the change happens in.
    now = local_on(zone, day - timedelta(days=days_before), clock)
    decision = decide_at(DAYTIME_POLICY, now, person=make_person(timezone=zone))
    assert decision.verdict is Verdict.DEFER
    assert_jittered_opening(decision.until, zone, day)


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_closing_time_defers_to_the_next_day(zone: str, day: date) -> None:
    now = local_on(zone, day, time(21, 0))
    decision = decide_at(DAYTIME_POLICY, now, person=make_person(timezone=zone))
    assert decision.verdict is Verdict.DEFER
    assert_jittered_opening(decision.until, zone, day + ONE_DAY)


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_a_deferred_reminder_is_sent_at_its_new_instant(zone: str, day: date) -> None:
    who = make_person(timezone=zone)
    deferred = decide_at(DAYTIME_POLICY, local_on(zone, day, time(2, 0)), person=who)
    assert deferred.until is not None
    again = decide_at(DAYTIME_POLICY, deferred.until, person=who)
    assert again.verdict is Verdict.SEND


def test_weekday_window_defers_saturday_to_monday() -> None:
    compiled = policy(windows=[window("08:00", "21:00", days="mon-fri")])
    for now in (
        local(NEW_YORK, 2026, 6, 12, 21, 0),  # Friday closing
        local(NEW_YORK, 2026, 6, 13, 10, 0),  # Saturday
        local(NEW_YORK, 2026, 6, 14, 12, 0),  # Sunday
    ):
        decision = decide_at(compiled, now)
        assert decision.verdict is Verdict.DEFER
        assert_jittered_opening(decision.until, NEW_YORK, date(2026, 6, 15))


def test_window_starting_in_the_spring_gap_is_not_used_before_the_gap_ends() -> None:
    compiled = policy(windows=[window("02:30", "05:00")])
    gap_end = local(NEW_YORK, 2026, 3, 8, 3, 0)
    for now in (local(NEW_YORK, 2026, 3, 8, 1, 0), local(NEW_YORK, 2026, 3, 8, 1, 59, 59)):
        decision = decide_at(compiled, now)
        assert decision.verdict is Verdict.DEFER
        assert decision.until is not None
        assert gap_end <= decision.until < local(NEW_YORK, 2026, 3, 8, 5, 0)


def test_ambiguous_autumn_start_opens_at_its_first_occurrence() -> None:
    compiled = policy(windows=[window("01:30", "05:00")])
    first = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    decision = decide_at(compiled, first - timedelta(minutes=1))
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    assert first <= decision.until < first + JITTER
    assert decide_at(compiled, first).verdict is Verdict.SEND
    assert decide_at(compiled, local(NEW_YORK, 2026, 11, 1, 1, 15, fold=1)).verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        (local(NEW_YORK, 2026, 6, 10, 23, 30), Verdict.SEND),  # Wednesday
        (local(NEW_YORK, 2026, 6, 11, 1, 30), Verdict.SEND),  # Wednesday's window, Thursday
        (local(NEW_YORK, 2026, 6, 13, 1, 30), Verdict.SEND),  # Friday's window, Saturday
        (local(NEW_YORK, 2026, 6, 15, 1, 30), Verdict.DEFER),  # Sunday's window: no such
        (local(NEW_YORK, 2026, 6, 11, 2, 0), Verdict.DEFER),
        (local(NEW_YORK, 2026, 6, 10, 21, 59), Verdict.DEFER),
    ],
)
def test_window_across_midnight_belongs_to_the_day_it_starts_on(
    now: datetime, verdict: Verdict
) -> None:
    compiled = policy(windows=[window("22:00", "02:00", days="mon-fri")])
    decision = decide_at(compiled, now)
    assert decision.verdict is verdict
    if verdict is Verdict.DEFER:
        assert decision.until is not None
        until = wall(decision.until, NEW_YORK)
        assert until.date() == wall(now, NEW_YORK).date()
        assert time(22) <= until.time() < time(22, 20)


# -- which channels windows bind -------------------------------------------------------------

NIGHT_NY = local(NEW_YORK, 2026, 6, 10, 3, 0)


def test_channel_without_a_window_rule_and_without_a_star_rule_is_always_open() -> None:
    compiled = policy(windows=[window("09:00", "20:00", channels=["voice"])])
    assert decide_at(compiled, NIGHT_NY).verdict is Verdict.SEND
    voice = decide_at(compiled, NIGHT_NY, reminder=make_reminder(channel="voice"))
    assert voice.verdict is Verdict.DEFER


def test_channel_exempt_by_its_traits_ignores_windows() -> None:
    decision = decide_at(DAYTIME_POLICY, NIGHT_NY, reminder=make_reminder(channel="letter"))
    assert decision.verdict is Verdict.SEND
    assert decision.contact == POSTAL_1


@pytest.mark.parametrize(("exempt", "verdict"), [(["postcard"], Verdict.SEND), ([], Verdict.DEFER)])
def test_channel_exempt_in_the_policy_file_ignores_windows(
    exempt: list[str], verdict: Verdict
) -> None:
    compiled = policy(windows=[DAYTIME], window_exempt=exempt)
    decision = decide_at(compiled, NIGHT_NY, reminder=make_reminder(channel="postcard"))
    assert decision.verdict is verdict


def test_exempt_channel_still_obeys_case_state_and_opt_out() -> None:
    letter = make_reminder(channel="letter")
    paid = decide_at(
        DAYTIME_POLICY, NIGHT_NY, reminder=letter, case=make_case(state=CaseState.PAID)
    )
    assert paid.verdict is Verdict.SUPPRESS
    opted = make_person(opt_outs=[OptOut("letter")])
    assert decide_at(DAYTIME_POLICY, NIGHT_NY, reminder=letter, person=opted).verdict is (
        Verdict.SUPPRESS
    )


@pytest.mark.parametrize(
    ("channel", "now", "opens"),
    [
        # Wednesday 08:30: "*" is open, voice's own window is not yet.
        ("sms", local(NEW_YORK, 2026, 6, 10, 8, 30), None),
        ("voice", local(NEW_YORK, 2026, 6, 10, 8, 30), local(NEW_YORK, 2026, 6, 10, 9)),
        ("voice", local(NEW_YORK, 2026, 6, 10, 20, 30), local(NEW_YORK, 2026, 6, 11, 9)),
        # Sunday: voice has no window; "*" does not lend it one.
        ("voice", local(NEW_YORK, 2026, 6, 14, 12, 0), local(NEW_YORK, 2026, 6, 15, 9)),
    ],
)
def test_a_channel_named_by_a_window_uses_only_its_own_windows(
    channel: str, now: datetime, opens: datetime | None
) -> None:
    compiled = policy(
        windows=[DAYTIME, window("09:00", "20:00", days="mon-fri", channels=["voice"])]
    )
    decision = decide_at(compiled, now, reminder=make_reminder(channel=channel))
    if opens is None:
        assert decision.verdict is Verdict.SEND
    else:
        assert decision.verdict is Verdict.DEFER
        assert decision.until is not None
        assert opens <= decision.until < opens + JITTER


def test_unknown_channel_is_suppressed() -> None:
    decision = decide_at(DAYTIME_POLICY, NIGHT_NY, reminder=make_reminder(channel="fax"))
    assert decision.verdict is Verdict.SUPPRESS
    assert codes(decision) == ["unknown_channel"]
    assert "fax" in decision.reasons[0].text


# -- jitter ----------------------------------------------------------------------------------


def test_jitter_is_deterministic_per_reminder() -> None:
    reminder = make_reminder(id=4242)
    nights = [
        local(SHANGHAI, 2026, 6, 10, 22, 0),
        local(SHANGHAI, 2026, 6, 10, 23, 59),
        local(SHANGHAI, 2026, 6, 11, 3, 0),
    ]
    who = make_person(timezone=SHANGHAI)
    untils = {decide_at(DAYTIME_POLICY, n, reminder=reminder, person=who).until for n in nights}
    assert len(untils) == 1


def test_jitter_spreads_reminders_over_the_first_part_of_the_window() -> None:
    who = make_person(timezone=SHANGHAI)
    now = local(SHANGHAI, 2026, 6, 10, 23, 0)
    opening = local(SHANGHAI, 2026, 6, 11, 8, 0)
    untils = []
    for reminder_id in range(1, 201):
        decision = decide_at(
            DAYTIME_POLICY, now, reminder=make_reminder(id=reminder_id), person=who
        )
        assert decision.until is not None
        untils.append(decision.until)
    assert all(opening <= until < opening + JITTER for until in untils)
    assert len(set(untils)) >= 150
    assert max(untils) - min(untils) >= timedelta(minutes=15)


@pytest.mark.parametrize(
    ("rule", "jitter", "bound"),
    [
        (window("08:00", "08:30"), "20m", timedelta(minutes=15)),
        (window("08:00", "09:00"), "3h", timedelta(minutes=30)),
        (window("22:00", "00:10"), "2h", timedelta(minutes=65)),
    ],
)
def test_jitter_is_less_than_half_the_window(
    rule: dict[str, Any], jitter: str, bound: timedelta
) -> None:
    compiled = policy(windows=[rule], jitter=jitter)
    now = local(NEW_YORK, 2026, 6, 10, 5, 0)
    opening = local_on(NEW_YORK, date(2026, 6, 10), time.fromisoformat(rule["from"]))
    for reminder_id in range(1, 101):
        decision = decide_at(compiled, now, reminder=make_reminder(id=reminder_id))
        assert decision.until is not None
        assert opening <= decision.until < opening + bound
        assert is_open(compiled, "sms", NEW_YORK, decision.until)


def test_zero_jitter_lands_on_the_opening() -> None:
    compiled = policy(windows=[DAYTIME], jitter="0s")
    decision = decide_at(
        compiled, local(LONDON, 2026, 3, 28, 22, 0), person=make_person(timezone=LONDON)
    )
    assert decision.until == local(LONDON, 2026, 3, 29, 8, 0)


# -- reasons and time zones ------------------------------------------------------------------


def test_quiet_hours_reason_names_the_local_time_the_zone_and_the_next_window() -> None:
    who = make_person(timezone=SHANGHAI)
    decision = decide_at(DAYTIME_POLICY, local(SHANGHAI, 2026, 6, 10, 22, 40), person=who)
    (reason,) = decision.reasons
    assert reason.code == "quiet_hours"
    assert "22:40" in reason.text
    assert "Asia/Shanghai" in reason.text
    assert "08:00" in reason.text
    assert str(reason).startswith("quiet_hours: ")


def test_person_without_a_time_zone_uses_the_fallback_zone_and_is_flagged() -> None:
    compiled = policy(windows=[DAYTIME], fallback_timezone=SHANGHAI)
    who = make_person(timezone=None)
    deferred = decide_at(compiled, local(SHANGHAI, 2026, 6, 10, 7, 0), person=who)
    assert deferred.verdict is Verdict.DEFER
    assert_jittered_opening(deferred.until, SHANGHAI, date(2026, 6, 10))
    assert "tz_fallback" in deferred.flags
    # 10:00 in Shanghai is 22:00 in New York: only the fallback zone makes this a send.
    sent = decide_at(compiled, local(SHANGHAI, 2026, 6, 10, 10, 0), person=who)
    assert sent.verdict is Verdict.SEND
    assert "tz_fallback" in sent.flags


def test_default_fallback_zone_is_utc() -> None:
    decision = decide_at(
        DAYTIME_POLICY, datetime(2026, 6, 10, 7, 59, tzinfo=UTC), person=make_person(timezone=None)
    )
    assert decision.verdict is Verdict.DEFER
    assert_jittered_opening(decision.until, "UTC", date(2026, 6, 10))
    assert decision.flags == ("tz_fallback",)


def test_person_with_a_time_zone_is_not_flagged() -> None:
    decision = decide_at(DAYTIME_POLICY, local(NEW_YORK, 2026, 6, 10, 7, 0))
    assert decision.flags == ()


# -- rules combined: the deferral satisfies every rule at once --------------------------------


def _three_attempts_freeing_at(free_at: datetime) -> list[Attempt]:
    first = free_at - ONE_DAY
    return [make_attempt(first + timedelta(hours=h)) for h in (0, 1, 2)]


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
def test_limit_freeing_just_before_closing_defers_to_that_instant(zone: str, day: date) -> None:
    # 20:59:59 is inside the window: sending then is allowed, so it is the earliest instant.
    compiled = policy(windows=[DAYTIME], limits=[limit(3, "1d")])
    free_at = local_on(zone, day, time(20, 59, 59))
    history = _three_attempts_freeing_at(free_at)
    now = history[-1].at + timedelta(minutes=1)
    who = make_person(timezone=zone)
    decision = decide_at(compiled, now, person=who, history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == free_at
    assert "rate_limit" in codes(decision)
    assert decide_at(compiled, free_at, person=who, history=history).verdict is Verdict.SEND


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize("clock", [time(21, 0), time(21, 0, 1), time(23, 59), time(4, 0)])
def test_limit_freeing_in_quiet_hours_defers_to_the_next_window(
    zone: str, day: date, clock: time
) -> None:
    compiled = policy(windows=[DAYTIME], limits=[limit(3, "1d")])
    free_day = day - ONE_DAY if clock >= time(21) else day
    history = _three_attempts_freeing_at(local_on(zone, free_day, clock))
    now = history[-1].at + timedelta(minutes=1)
    who = make_person(timezone=zone)
    decision = decide_at(compiled, now, person=who, history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    assert_jittered_opening(decision.until, zone, day)
    assert {"rate_limit", "quiet_hours"} <= set(codes(decision))
    again = decide_at(compiled, decision.until, person=who, history=history)
    assert again.verdict is Verdict.SEND


def test_gap_ending_in_quiet_hours_defers_to_the_next_window() -> None:
    compiled = policy(windows=[DAYTIME], min_gap={"every": "4h"})
    last = make_attempt(local(LONDON, 2026, 10, 24, 20, 0))
    who = make_person(timezone=LONDON)
    decision = decide_at(compiled, last.at + timedelta(minutes=5), person=who, history=[last])
    assert decision.verdict is Verdict.DEFER
    assert_jittered_opening(decision.until, LONDON, date(2026, 10, 25))
    assert {"min_gap", "quiet_hours"} <= set(codes(decision))


@pytest.mark.parametrize(
    ("oldest", "expected_local"),
    [
        # The contact limit frees last, at 09:30, inside the window: exactly then.
        (local(NEW_YORK, 2026, 6, 9, 9, 30), datetime(2026, 6, 11, 9, 30)),
        # It frees last at 05:00, in quiet hours: the next opening, with jitter.
        (local(NEW_YORK, 2026, 6, 9, 5, 0), None),
    ],
)
def test_several_rules_settle_on_an_instant_they_all_accept(
    oldest: datetime, expected_local: datetime | None
) -> None:
    compiled = policy(
        windows=[DAYTIME],
        limits=[limit(3, "1d"), limit(4, "2d", scope="contact")],
    )
    history = [
        make_attempt(oldest),
        make_attempt(local(NEW_YORK, 2026, 6, 9, 23, 0)),
        make_attempt(local(NEW_YORK, 2026, 6, 10, 1, 0)),
        make_attempt(local(NEW_YORK, 2026, 6, 10, 2, 0)),
    ]
    # The person limit alone would free at 23:00 tonight, in quiet hours.
    decision = decide_at(compiled, local(NEW_YORK, 2026, 6, 10, 2, 30), history=history)
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    if expected_local is None:
        assert_jittered_opening(decision.until, NEW_YORK, date(2026, 6, 11))
    else:
        assert wall(decision.until, NEW_YORK) == expected_local
    assert decide_at(compiled, decision.until, history=history).verdict is Verdict.SEND


VOICE_WINDOWS = [DAYTIME, window("09:00", "20:00", channels=["voice"])]


@pytest.mark.parametrize(
    ("talk_local", "expected_local"),
    [
        (datetime(2026, 6, 3, 19, 45), datetime(2026, 6, 10, 19, 45)),
        (datetime(2026, 6, 3, 20, 15), None),  # frees after voice closes: next day 09:00
    ],
)
def test_cooldown_and_voice_window_together(
    talk_local: datetime, expected_local: datetime | None
) -> None:
    compiled = policy(
        windows=VOICE_WINDOWS, cooldown={"channels": ["voice"], "per": "7d", "scope": "case"}
    )
    talk_at = local(NEW_YORK, *talk_local.timetuple()[:5])
    talk = make_attempt(talk_at, channel="voice", outcome=Outcome.CONVERSATION)
    voice = make_reminder(channel="voice")
    now = local(NEW_YORK, 2026, 6, 8, 10, 0)
    decision = decide_at(compiled, now, reminder=voice, history=[talk])
    assert decision.verdict is Verdict.DEFER
    assert decision.until is not None
    assert "cooldown" in codes(decision)
    if expected_local is None:
        opening = local(NEW_YORK, 2026, 6, 11, 9, 0)
        assert opening <= decision.until < opening + JITTER
    else:
        assert decision.until == talk_at + timedelta(days=7)
        assert wall(decision.until, NEW_YORK) == expected_local


# -- property: a deferral is an instant every rule accepts ------------------------------------

PROPERTY_ZONES = [
    NEW_YORK,
    LONDON,
    SHANGHAI,
    LOS_ANGELES,
    "Australia/Lord_Howe",  # a half-hour DST shift
    "Asia/Kolkata",
]
PROPERTY_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 6, 10),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
WINDOW_SETS: list[list[dict[str, Any]]] = [
    [],
    [DAYTIME],
    [
        DAYTIME,
        window("09:00", "20:00", days="mon-fri", channels=["voice"]),
        window("10:00", "18:00", days="sat", channels=["voice"]),
    ],
    [window("08:00", "12:00", days="mon-sat"), window("13:00", "20:00", days="mon-sat")],
    [window("22:00", "06:00", days="fri,sat")],
    [window("02:30", "05:00"), window("19:00", "01:30", days="sat,sun")],
    [window("00:00", "24:00", days="tue,thu")],
    [DAYTIME, window("08:00", "09:00", channels=["sms"])],
]
LIMIT_POOL: list[dict[str, Any]] = [
    limit(3, "1d", channels=["sms", "voice"]),
    limit(7, "7d", channels=["voice"], scope="case"),
    limit(10, "7d", scope="contact"),
    limit(2, "1d", channels=["email"]),
    limit(1, "6h", channels=["sms"], scope="contact"),
    limit(2, "36h", channels=["postcard", "letter"], scope="case"),
]
OUTCOMES = list(Outcome)


def _random_policy(rng: random.Random) -> Policy:
    return policy(
        windows=rng.choice(WINDOW_SETS),
        limits=rng.sample(LIMIT_POOL, rng.randint(0, len(LIMIT_POOL))),
        min_gap=rng.choice(
            [None, {"every": "4h", "channels": ["sms", "voice", "email"]}, {"every": "90m"}]
        ),
        cooldown=rng.choice(
            [
                None,
                {"channels": ["voice"], "per": "7d", "scope": "case"},
                {"channels": ["voice", "sms"], "per": "2d", "scope": "person"},
            ]
        ),
        jitter=rng.choice(["0s", "20m", "2h"]),
        window_exempt=rng.choice([[], ["email"]]),
        fallback_timezone=rng.choice(PROPERTY_ZONES),
        after_cease=[("letter", "final_notice")],
    )


def _random_person(rng: random.Random) -> Person:
    contacts = [
        ContactPoint(
            c.id,
            c.kind,
            c.value,
            rng.choice(["ok"] * 12 + ["invalid", "opted_out"]),
            rng.randint(0, 2),
        )
        for c in CONTACTS
    ]
    opt_outs = [
        OptOut(rng.choice(["sms", "voice", "email", "*"]), rng.choice([None, PHONE_1.value]))
        for _ in range(rng.choice([0] * 5 + [1]))
    ]
    zone = rng.choice([*PROPERTY_ZONES, None])
    return make_person(timezone=zone, contacts=contacts, opt_outs=opt_outs)


def _random_case(rng: random.Random, now: datetime) -> Case:
    # Disputed is left out: its hold is re-checked, not lifted, at the deferral instant.
    state = rng.choice(
        [CaseState.OPEN] * 6 + [CaseState.PLAN, CaseState.HARDSHIP, CaseState.CEASED]
    )
    paused = None
    if state in (CaseState.PLAN, CaseState.HARDSHIP):
        paused = now + timedelta(seconds=rng.randint(-3 * 86400, 10 * 86400))
    return make_case(state=state, paused_until=paused)


def _random_history(rng: random.Random, now: datetime) -> list[Attempt]:
    # Most attempts are recent, so the day-long limits are often reached.
    values = [c.value for c in CONTACTS] + ["+15559999999"]
    return [
        make_attempt(
            now - timedelta(seconds=rng.randint(0, rng.choice([36, 36, 216]) * 3600)),
            channel=rng.choice(["sms", "voice", "email", "letter", "postcard"]),
            case_id=rng.choice(["C1", "C1", "C2"]),
            contact=rng.choice(values),
            outcome=rng.choice(OUTCOMES),
            counted=rng.random() < 0.8,
        )
        for _ in range(rng.randint(0, 30))
    ]


def _random_now(rng: random.Random) -> datetime:
    day = rng.choice(PROPERTY_DAYS) + timedelta(days=rng.randint(-2, 1))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return midnight + timedelta(seconds=rng.randint(0, 86400 - 1))


def _rules_refusing(
    compiled: Policy,
    reminder: Reminder,
    person: Person,
    history: Sequence[Attempt],
    contact: ContactPoint,
    at: datetime,
) -> list[str]:
    """Each rule checked on its own at ``at``; the names of those that forbid it."""
    broken = []
    channel = reminder.channel
    zone = person.timezone or compiled.fallback_timezone
    if not is_open(compiled, channel, zone, at):
        broken.append("window")
    for rule in compiled.limits:
        if not rule.applies_to(channel):
            continue
        in_window = [
            a
            for a in history
            if a.counted
            and rule.applies_to(a.channel)
            and at - rule.per < a.at <= at
            and (rule.scope != "case" or a.case_id == reminder.case_id)
            and (rule.scope != "contact" or a.contact == contact.value)
        ]
        if len(in_window) >= rule.max:
            broken.append(f"limit {rule}")
    gap = compiled.gap
    if (
        gap is not None
        and gap.applies_to(channel)
        and any(
            a.counted and gap.applies_to(a.channel) and at - gap.every < a.at <= at for a in history
        )
    ):
        broken.append("gap")
    cooldown = compiled.cooldown
    if (
        cooldown is not None
        and ("*" in cooldown.channels or channel in cooldown.channels)
        and any(
            a.outcome is Outcome.CONVERSATION
            and at - cooldown.per < a.at <= at
            and (cooldown.scope != "case" or a.case_id == reminder.case_id)
            for a in history
        )
    ):
        broken.append("cooldown")
    return broken


@pytest.mark.parametrize("block", range(20))
def test_a_deferral_is_an_instant_every_rule_accepts(block: int) -> None:
    for seed in range(block * 60, block * 60 + 60):
        rng = random.Random(seed)
        compiled = _random_policy(rng)
        person = _random_person(rng)
        for _ in range(4):
            now = _random_now(rng)
            case = _random_case(rng, now)
            reminder = make_reminder(
                id=rng.randint(1, 10**6),
                channel=rng.choice(["sms", "voice", "email", "letter", "postcard"]),
                template=rng.choice(["first_notice", "final_notice"]),
            )
            history = _random_history(rng, now)
            decision = decide(compiled, reminder, person, case, history, now)
            context = f"seed={seed} now={now.isoformat()} decision={decision}"
            if decision.verdict is Verdict.SUPPRESS:
                assert decision.reasons, context
                continue
            assert decision.contact is not None, context
            if decision.verdict is Verdict.SEND:
                assert (
                    _rules_refusing(compiled, reminder, person, history, decision.contact, now)
                    == []
                ), context
                continue
            assert decision.until is not None and decision.until > now, context
            assert decision.reasons, context
            assert (
                _rules_refusing(
                    compiled, reminder, person, history, decision.contact, decision.until
                )
                == []
            ), context
            again = decide(compiled, reminder, person, case, history, decision.until)
            assert again.verdict is Verdict.SEND, f"{context} again={again}"
            assert again.contact == decision.contact, context
