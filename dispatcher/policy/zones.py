"""Which time zones a person may be in: pure, from what is on file.

An explicit time zone on the person wins. Without one, every phone number (``phonenumbers``'
time-zone data) and every postal address (its country, and its region where the region
decides the zone: US states, Canadian provinces, Australian states) adds candidates; other
countries with several zones count with all of them, the strictest reading.
Reg F §1006.6(b)(1) as commonly read: when the zone is unknown or ambiguous, a contact is
convenient only if it is convenient in every candidate zone, so the engine requires every
window rule to be open in all of them. With no candidate at all the configured fallback zone
is used and the decision is flagged ``tz_fallback``.

One of the candidates is *primary*: the zone a schedule step's ``at`` is read in (by the
planner, ``explain`` and ``simulate`` alike). In order: the person's own zone; else the first
zone of the postal addresses (where the person lives; a region's principal zone comes first,
Florida → America/New_York), then of the phone numbers, the addresses and numbers taken in
the sorted order of their values so that the order the store returns them in does not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import phonenumbers
from phonenumbers import timezone as phone_timezone

from dispatcher.model import ContactKind, Person

UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers when it cannot tell


@dataclass(frozen=True, slots=True)
class ZoneChoice:
    """The zones to judge a contact in (sorted) and where they came from: ``person``,
    ``phone``, ``address``, ``phone+address`` or ``fallback``; ``primary`` (one of ``zones``)
    is the zone a step's ``at`` is read in."""

    zones: tuple[str, ...]
    source: str
    primary: str = ""

    @property
    def at_zone(self) -> str:
        """The zone a schedule step's ``at`` is read in."""
        return self.primary or self.zones[0]

    @property
    def fallback(self) -> bool:
        return self.source == "fallback"


def person_zones(person: Person, fallback: str) -> ZoneChoice:
    """The candidate zones of ``person`` (explicit zone first, then phones and addresses)."""
    phones = tuple(c.value for c in person.contacts if c.kind is ContactKind.PHONE)
    addresses = tuple(c.value for c in person.contacts if c.kind is ContactKind.POSTAL)
    return zones_of(person.timezone, phones, addresses, fallback)


def local_zone(person: Person | None, fallback: str) -> str:
    """The zone a person's local times are read in: a step's ``at``, and a date or time an
    operator gives for them without an offset (``enqueue --at``, a pause's ``until``)."""
    return person_zones(person, fallback).at_zone if person is not None else fallback


def zones_of(
    timezone: str | None, phones: tuple[str, ...], addresses: tuple[str, ...], fallback: str
) -> ZoneChoice:
    """The candidate zones of a person with this explicit ``timezone`` (or none), phone
    numbers and postal addresses: the one resolution the policy, the planner, ``explain``
    and ``simulate`` share."""
    if timezone:
        return ZoneChoice((timezone,), "person", timezone)
    return _inferred(tuple(sorted(phones)), tuple(sorted(addresses)), fallback)


@lru_cache(maxsize=65536)
def _inferred(phones: tuple[str, ...], addresses: tuple[str, ...], fallback: str) -> ZoneChoice:
    sources: list[str] = []
    from_phones = [z for p in phones for z in phone_zones(p)]
    if from_phones:
        sources.append("phone")
    from_addresses = [z for a in addresses for z in address_zones(a)]
    if from_addresses:
        sources.append("address")
    ordered = from_addresses + from_phones
    if not ordered:
        return ZoneChoice((fallback,), "fallback", fallback)
    return ZoneChoice(tuple(sorted(set(ordered))), "+".join(sources), ordered[0])


@lru_cache(maxsize=65536)
def phone_zones(number: str) -> tuple[str, ...]:
    """The zones ``phonenumbers`` gives for an E.164 number (none when it cannot tell)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezone.time_zones_for_number(parsed)
    return tuple(z for z in zones if z != UNKNOWN_ZONE)


# US states and DC → the zones of the state (several where a state spans zones).
US_STATES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",),
    "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix",),
    "AR": ("America/Chicago",),
    "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",),
    "CT": ("America/New_York",),
    "DC": ("America/New_York",),
    "DE": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",),
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "IA": ("America/Chicago",),
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"),
    "LA": ("America/Chicago",),
    "ME": ("America/New_York",),
    "MD": ("America/New_York",),
    "MA": ("America/New_York",),
    "MI": ("America/Detroit", "America/Chicago"),
    "MN": ("America/Chicago",),
    "MS": ("America/Chicago",),
    "MO": ("America/Chicago",),
    "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"),
    "NV": ("America/Los_Angeles",),
    "NH": ("America/New_York",),
    "NJ": ("America/New_York",),
    "NM": ("America/Denver",),
    "NY": ("America/New_York",),
    "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"),
    "OH": ("America/New_York",),
    "OK": ("America/Chicago",),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",),
    "RI": ("America/New_York",),
    "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/Chicago", "America/New_York"),
    "TX": ("America/Chicago", "America/Denver"),
    "UT": ("America/Denver",),
    "VT": ("America/New_York",),
    "VA": ("America/New_York",),
    "WA": ("America/Los_Angeles",),
    "WV": ("America/New_York",),
    "WI": ("America/Chicago",),
    "WY": ("America/Denver",),
}
COUNTRY_ALIASES = {
    "USA": "US",
    "U.S.A.": "US",
    "U.S.": "US",
    "UNITED STATES OF AMERICA": "US",
    "UK": "GB",
    "UNITED KINGDOM": "GB",
    "GREAT BRITAIN": "GB",
    "U.K.": "GB",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "PRC": "CN",
    "P.R. CHINA": "CN",
    "中国": "CN",
    "中华人民共和国": "CN",
}
# Canadian provinces and territories; where part of one keeps another zone, both count
# (a contact must be convenient in each).
CA_PROVINCES: dict[str, tuple[str, ...]] = {
    "BC": ("America/Vancouver", "America/Edmonton"),
    "AB": ("America/Edmonton",),
    "SK": ("America/Regina", "America/Edmonton"),
    "MB": ("America/Winnipeg",),
    "ON": ("America/Toronto", "America/Winnipeg"),
    "QC": ("America/Toronto",),
    "NB": ("America/Moncton",),
    "NS": ("America/Halifax",),
    "PE": ("America/Halifax",),
    "NL": ("America/St_Johns",),
    "YT": ("America/Whitehorse",),
    "NT": ("America/Yellowknife",),
    "NU": ("America/Iqaluit", "America/Winnipeg", "America/Edmonton"),
}
# Australian states and territories (Broken Hill, in NSW, keeps South Australian time).
AU_STATES: dict[str, tuple[str, ...]] = {
    "NSW": ("Australia/Sydney", "Australia/Broken_Hill"),
    "ACT": ("Australia/Sydney",),
    "VIC": ("Australia/Melbourne",),
    "QLD": ("Australia/Brisbane",),
    "SA": ("Australia/Adelaide",),
    "WA": ("Australia/Perth",),
    "TAS": ("Australia/Hobart",),
    "NT": ("Australia/Darwin",),
}
# Where a region decides the zone: country → region code → zones.
REGION_ZONES: dict[str, dict[str, tuple[str, ...]]] = {
    "US": US_STATES,
    "CA": CA_PROVINCES,
    "AU": AU_STATES,
}
# China keeps one legal time (Beijing time) everywhere; zone.tab's Asia/Urumqi is local usage.
COUNTRY_ZONE_OVERRIDES = {"CN": ("Asia/Shanghai",)}
_US_STATE_LINE = re.compile(r",\s*([A-Z]{2})(?:\s+\d{5}(?:-\d{4})?)?\s*$")
# "Toronto ON M5V 2T6", "Vancouver, BC V6B 1A1"
_CA_PROVINCE_LINE = re.compile(r"\b([A-Z]{2})\s+[A-Z]\d[A-Z]\s?\d[A-Z]\d\s*$")
# "Sydney NSW 2000", "Perth, WA 6000"
_AU_STATE_LINE = re.compile(r"\b(NSW|ACT|VIC|QLD|SA|WA|TAS|NT)\s+\d{4}\s*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


@lru_cache(maxsize=1)
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country code → its zones, from the IANA ``zone.tab`` that ``tzdata`` ships."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, _coords, zone, *_ = line.split("\t")
        zones.setdefault(code, []).append(zone)
    return {code: tuple(sorted(z)) for code, z in zones.items()}


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Upper-case country name or code → ISO code, from ``iso3166.tab``."""
    text = resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text()
    names: dict[str, str] = dict(COUNTRY_ALIASES)
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, name = line.split("\t", 1)
        names[name.strip().upper()] = code
        names[code] = code
    return names


def address_country(address: str) -> tuple[str | None, str | None]:
    """(ISO country, region) read from a free-text address, either None when not found.

    The last line naming a country decides it; a US ``City, ST 12345``, a Canadian
    ``City ON A1A 1A1`` or an Australian ``Suburb NSW 2000`` line gives the region; an address
    in Chinese characters (and no kana) is taken to be in China.
    """
    lines = [line.strip() for line in re.split(r"\n|\\n", address) if line.strip()]
    country: str | None = None
    names = country_names()
    for line in reversed(lines):
        tail = line.rsplit(",", 1)[-1].strip().rstrip(".").upper()
        if country is None and tail in names and len(tail) > 2:
            country = names[tail]
            continue
        if country is None and tail in ("US", "GB", "CN", "UK", "CA", "AU") and "," in line:
            country = names[tail]
            continue
        region = _region(line.upper(), country)
        if region is not None:
            return region
    if country is None and _CJK.search(address) and not _KANA.search(address):
        country = "CN"
    return country, None


def _region(line: str, country: str | None) -> tuple[str, str] | None:
    """(country, region) when ``line`` is a region line of a country that fits ``country``."""
    for code, pattern, regions in (
        ("CA", _CA_PROVINCE_LINE, CA_PROVINCES),
        ("AU", _AU_STATE_LINE, AU_STATES),
        ("US", _US_STATE_LINE, US_STATES),
    ):
        match = pattern.search(line)
        if match and match.group(1) in regions and country in (None, code):
            return code, match.group(1)
    return None


def address_zones(address: str) -> tuple[str, ...]:
    """The zones a postal address puts its person in (none when it names no country)."""
    country, region = address_country(address)
    if country is not None and region is not None:
        return REGION_ZONES[country][region]
    if country is None:
        return ()
    return COUNTRY_ZONE_OVERRIDES.get(country) or country_zones().get(country, ())
