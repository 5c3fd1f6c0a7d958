"""Rules by where the person lives: one config, people in Massachusetts, New York City,
Texas, London and Shanghai, each held to their own jurisdiction's limits and windows; a
Boston address with a Texas number gets Massachusetts' limits; no place at all gets the
default, flagged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from dispatcher.config import PolicyFile
from dispatcher.model import Attempt, ContactKind, ContactPoint, Person, Verdict
from dispatcher.policy import Policy, compile_policy, decide
from dispatcher.policy.jurisdictions import person_places, reading_of
from tests.policy.conftest import CHANNELS, make_attempt, make_case, make_reminder

# New York City by its ZIP codes (Manhattan 100–102, the Bronx 104, Brooklyn 112, Queens
# 110/111/113/114/116, Staten Island 103).
NYC_ZIPS = ["100", "101", "102", "103", "104", "110", "111", "112", "113", "114", "116"]
JURISDICTIONS: list[dict[str, Any]] = [
    {"name": "massachusetts", "country": "US", "region": "MA", "overlays": ["us-ma"]},
    {"name": "nyc", "country": "US", "postal_codes": NYC_ZIPS, "overlays": ["us-nyc"]},
    {"name": "uk", "country": "GB", "preset": "uk-fca"},
    {"name": "china", "country": "CN", "region": "SH", "preset": "cn"},
]


def places_policy(**extra: Any) -> Policy:
    source = PolicyFile.model_validate(
        {"preset": "us-reg-f", "jurisdictions": JURISDICTIONS, **extra}
    )
    return compile_policy(source, CHANNELS, fallback_timezone="America/Chicago")


def person(pid: str, *contacts: tuple[ContactKind, str]) -> Person:
    points = tuple(ContactPoint(i, kind, value) for i, (kind, value) in enumerate(contacts, 1))
    return Person(pid, "Pat Example", "en", None, points)


PHONE, POSTAL, EMAIL = ContactKind.PHONE, ContactKind.POSTAL, ContactKind.EMAIL
BOSTON = person("MA", (POSTAL, "1 Beacon St\nBoston, MA 02108"), (PHONE, "+16175550123"))
NEW_YORK = person(
    "NYC",
    (POSTAL, "350 5th Ave\nNew York, NY 10118"),
    (PHONE, "+12125550123"),
    (EMAIL, "nyc@example.com"),
)
AUSTIN = person("TX", (POSTAL, "100 Congress Ave\nAustin, TX 78701"), (PHONE, "+15125550123"))
LONDON = person("UK", (POSTAL, "10 Downing St\nLondon SW1A 2AA\nUnited Kingdom"))
LONDON = Person(
    "UK", "Pat", "en", None, (*LONDON.contacts, ContactPoint(9, PHONE, "+442079460000"))
)
SHANGHAI = person("CN", (POSTAL, "上海市浦东新区世纪大道100号 200120"), (PHONE, "+862161234567"))
BOSTON_WITH_TEXAS_PHONE = person(
    "MA-TX", (POSTAL, "1 Beacon St\nBoston, MA 02108"), (PHONE, "+15125550123")
)
START = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # a Monday


def week_of_calls(policy: Policy, who: Person, channel: str = "voice") -> list[datetime]:
    """Every 30 minutes for a week, one call whenever the policy lets it go: what was sent."""
    sent: list[datetime] = []
    history: list[Attempt] = []
    reminder = make_reminder(channel=channel)
    case = make_case(person_id=who.id)
    at = START
    while at < START + timedelta(days=7):
        decision = decide(policy, reminder, who, case, history, at)
        if decision.verdict is Verdict.SEND:
            assert decision.contact is not None
            sent.append(at)
            contact = decision.contact.value
            history.append(make_attempt(at, channel=channel, contact=contact, person_id=who.id))
        at += timedelta(minutes=30)
    return sent


def local_hours(sent: Sequence[datetime], zone: str) -> set[int]:
    from zoneinfo import ZoneInfo

    return {s.astimezone(ZoneInfo(zone)).hour for s in sent}


def test_each_person_gets_exactly_their_jurisdictions_limits_and_windows() -> None:
    policy = places_policy()

    # Massachusetts: 2 calls and texts per 7 days per debt (us-ma), over Reg F's 7.
    assert len(week_of_calls(policy, BOSTON)) == 2
    # New York City: 3 attempts per 7 days per account (us-nyc).
    assert len(week_of_calls(policy, NEW_YORK)) == 3
    # Texas has no jurisdiction of its own: Reg F only, 7 calls per 7 days, 08:00–21:00.
    texas = week_of_calls(policy, AUSTIN)
    assert len(texas) == 7
    assert local_hours(texas, "America/Chicago") <= set(range(8, 21))
    # London: uk-fca instead of Reg F (no call cap; weekday hours 08:00–21:00).
    london = week_of_calls(policy, LONDON)
    assert len(london) > 7
    assert local_hours(london, "Europe/London") <= set(range(8, 21))
    assert local_hours(london, "Europe/London") >= {8, 20}
    # Shanghai: the cn preset (08:00–22:00, at most 6 unanswered calls a day to one number).
    shanghai = week_of_calls(policy, SHANGHAI)
    assert local_hours(shanghai, "Asia/Shanghai") <= set(range(8, 22))
    assert 8 in local_hours(shanghai, "Asia/Shanghai")
    assert len(shanghai) == 6 * 7  # no Reg F cap of 7 a week: the cn preset replaces it


def test_a_boston_address_with_a_texas_number_gets_massachusetts_limits() -> None:
    policy = places_policy()
    assert len(week_of_calls(policy, BOSTON_WITH_TEXAS_PHONE)) == 2
    decision = decide(
        policy, make_reminder(channel="voice"), BOSTON_WITH_TEXAS_PHONE, make_case(), (), START
    )
    assert decision.jurisdictions == ("massachusetts",)
    reading = reading_of(policy.places.rules, None, person_places(BOSTON_WITH_TEXAS_PHONE))  # type: ignore[union-attr]
    assert reading.describe() == "massachusetts (address 1)"


def test_a_phone_in_another_jurisdiction_adds_its_rules_the_strictest_reading() -> None:
    # A London address with a Massachusetts mobile: uk-fca's hours and us-ma's two calls,
    # and Reg F's window too (the Massachusetts reading keeps the file's preset).
    both = Person(
        "X", "Pat", "en", None, (*LONDON.contacts[:1], ContactPoint(2, PHONE, "+16175550123"))
    )
    policy = places_policy()
    sent = week_of_calls(policy, both)
    assert len(sent) == 2
    decision = decide(policy, make_reminder(channel="voice"), both, make_case(), (), START)
    assert decision.jurisdictions == ("massachusetts", "uk")
    # Both readings' windows at once: open only where London 08:00–21:00 weekdays and
    # New York-or-London 08:00–21:00 (every candidate zone) agree.
    assert local_hours(sent, "Europe/London") <= set(range(13, 21))


def test_no_place_on_file_gets_the_default_jurisdiction_flagged() -> None:
    policy = places_policy(default_jurisdiction="massachusetts")
    nowhere = person("N", (EMAIL, "n@example.com"))
    decision = decide(policy, make_reminder(channel="email"), nowhere, make_case(), (), START)
    assert decision.jurisdictions == ("massachusetts",)
    assert "jurisdiction_default" in decision.flags
    # A place that matches no jurisdiction is not "no place": the file's own policy, no flag.
    texan = decide(policy, make_reminder(channel="voice"), AUSTIN, make_case(), (), START)
    assert texan.jurisdictions == ()
    assert "jurisdiction_default" not in texan.flags


def test_nyc_email_needs_consent_on_file() -> None:
    from dataclasses import replace

    from dispatcher.model import Consent

    policy = places_policy()
    at = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 11:00 in New York
    email = make_reminder(channel="email")
    refused = decide(policy, email, NEW_YORK, make_case(), (), at)
    assert refused.verdict is Verdict.SUPPRESS
    assert [r.code for r in refused.reasons] == ["consent_required"]
    given = replace(NEW_YORK, consents=(Consent("email", "nyc@example.com"),))
    assert decide(policy, email, given, make_case(), (), at).verdict is Verdict.SEND
    # Consent to SMS is not consent to email; a Boston person needs none.
    sms_only = replace(NEW_YORK, consents=(Consent("sms", None),))
    assert decide(policy, email, sms_only, make_case(), (), at).verdict is Verdict.SUPPRESS
    boston = replace(BOSTON, contacts=(*BOSTON.contacts, ContactPoint(7, EMAIL, "b@example.com")))
    assert decide(policy, email, boston, make_case(), (), at).verdict is Verdict.SEND


@pytest.mark.parametrize(
    ("jurisdictions", "message"),
    [
        ([{"name": "a", "country": "US", "overlays": ["us-tx"]}], "us-tx"),
        (
            [
                {"name": "a", "country": "US", "postal_codes": ["100"]},
                {"name": "b", "country": "US", "postal_codes": ["10001"]},
            ],
            "jurisdictions 'a' and 'b' overlap: postal code '100' and '10001'",
        ),
        ([{"name": "a", "country": "XX"}], "'XX' is not an ISO 3166 country code"),
        (
            [{"name": "a", "country": "US"}, {"name": "a", "country": "GB"}],
            "jurisdiction 'a' is defined more than once",
        ),
    ],
)
def test_bad_jurisdictions_are_refused_with_the_value(
    jurisdictions: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        PolicyFile.model_validate({"jurisdictions": jurisdictions})
    assert message in str(raised.value)


def test_a_default_must_name_a_jurisdiction() -> None:
    with pytest.raises(ValidationError, match="default_jurisdiction 'mars' is not a"):
        PolicyFile.model_validate({"default_jurisdiction": "mars"})
