"""Candidate time zones from what is on file: explicit zone, phone numbers, postal address."""

from __future__ import annotations

import pytest

from dispatcher.model import ContactKind, ContactPoint
from dispatcher.policy.zones import address_zones, person_zones, phone_zones
from tests.policy.conftest import make_person


@pytest.mark.parametrize(
    ("number", "zones"),
    [
        ("+12125550147", ("America/New_York",)),
        ("+13105550147", ("America/Los_Angeles",)),
        ("+8613800138000", ("Asia/Shanghai",)),
        ("+442079460123", ("Europe/London",)),
        ("+15550000001", ()),  # no zone data for this range
        ("not a number", ()),
    ],
)
def test_phone_zones(number: str, zones: tuple[str, ...]) -> None:
    assert phone_zones(number) == zones


@pytest.mark.parametrize(
    ("address", "zones"),
    [
        ("10 Example Street\nLos Angeles, CA 90012", ("America/Los_Angeles",)),
        ("12 Elm Street\\nNew York, NY", ("America/New_York",)),
        ("1 Main St\nEl Paso, TX 79901", ("America/Chicago", "America/Denver")),
        ("221B Baker Street\nLondon NW1 6XE\nUnited Kingdom", ("Europe/London",)),
        ("10 Rue de la Paix, 75002 Paris, France", ("Europe/Paris",)),
        ("上海市示例区幸福路1号\n2室", ("Asia/Shanghai",)),
        ("Berlin", ()),  # a town alone names no country
        ("", ()),
    ],
)
def test_address_zones(address: str, zones: tuple[str, ...]) -> None:
    assert address_zones(address) == zones


def test_a_country_with_several_zones_and_no_region_gives_all_of_them() -> None:
    zones = address_zones("1 Main Street\nSpringfield\nUnited States")
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(zones)


def test_every_phone_and_address_adds_candidates() -> None:
    person = make_person(
        timezone=None,
        contacts=(
            ContactPoint(1, ContactKind.PHONE, "+12125550147"),
            ContactPoint(2, ContactKind.PHONE, "+13125550147"),
            ContactPoint(3, ContactKind.POSTAL, "1 Main St\nLos Angeles, CA 90012"),
        ),
    )
    choice = person_zones(person, "UTC")
    assert choice.zones == ("America/Chicago", "America/Los_Angeles", "America/New_York")
    assert choice.source == "phone+address" and not choice.fallback


def test_nothing_known_means_the_fallback_zone() -> None:
    choice = person_zones(make_person(timezone=None, contacts=()), "Europe/Berlin")
    assert choice.zones == ("Europe/Berlin",) and choice.fallback


def test_explicit_zone_first() -> None:
    choice = person_zones(make_person(timezone="Asia/Tokyo"), "UTC")
    assert choice.zones == ("Asia/Tokyo",) and choice.source == "person"


@pytest.mark.parametrize(
    ("address", "zones"),
    [
        ("200 Bay Street\nToronto ON M5J 2J2\nCanada", ("America/Toronto", "America/Winnipeg")),
        ("1 Example Road\nCalgary, AB T2P 1J9", ("America/Edmonton",)),
        (
            "1 George Street\nSydney NSW 2000\nAustralia",
            ("Australia/Sydney", "Australia/Broken_Hill"),
        ),
        ("9 Hay Street\nPerth, WA 6000", ("Australia/Perth",)),
        # A US ZIP code of five digits is not an Australian postcode.
        ("1 Pike Street\nSeattle, WA 98101", ("America/Los_Angeles",)),
    ],
)
def test_regions_decide_the_zone_in_canada_and_australia(
    address: str, zones: tuple[str, ...]
) -> None:
    assert address_zones(address) == zones


def test_a_country_without_a_known_region_counts_all_its_zones() -> None:
    zones = address_zones("ul. Tverskaya 1\nMoscow\nRussia")
    assert "Europe/Moscow" in zones and "Asia/Vladivostok" in zones
