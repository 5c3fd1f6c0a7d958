"""Where a postal address or a phone number puts a person: country, region, postal code.

Pure, from the text on file. An address gives its country and region as ``zones`` reads them
(the last line naming a country; a US ``City, ST 12345``, Canadian ``City ON A1A 1A1`` or
Australian ``Suburb NSW 2000`` line; Chinese characters mean China), a Chinese province by
its name (``上海市…``, ``Shanghai``), and the postal code written in that country's form. A
phone number gives its country and, where the numbering plan says it, its region
(``phonenumbers``' geocoder: a NANP area code → the US state or Canadian province, a Chinese
area code → the province); it never gives a postal code, so it is the weaker candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from dispatcher.policy.zones import CA_PROVINCES, US_STATES, address_country

# ISO 3166-2:CN province-level divisions: code → (Chinese name, pinyin/English names).
CN_PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "BJ": ("北京", ("beijing",)),
    "TJ": ("天津", ("tianjin",)),
    "HE": ("河北", ("hebei",)),
    "SX": ("山西", ("shanxi",)),
    "NM": ("内蒙古", ("inner mongolia", "nei mongol")),
    "LN": ("辽宁", ("liaoning",)),
    "JL": ("吉林", ("jilin",)),
    "HL": ("黑龙江", ("heilongjiang",)),
    "SH": ("上海", ("shanghai",)),
    "JS": ("江苏", ("jiangsu",)),
    "ZJ": ("浙江", ("zhejiang",)),
    "AH": ("安徽", ("anhui",)),
    "FJ": ("福建", ("fujian",)),
    "JX": ("江西", ("jiangxi",)),
    "SD": ("山东", ("shandong",)),
    "HA": ("河南", ("henan",)),
    "HB": ("湖北", ("hubei",)),
    "HN": ("湖南", ("hunan",)),
    "GD": ("广东", ("guangdong",)),
    "GX": ("广西", ("guangxi",)),
    "HI": ("海南", ("hainan",)),
    "CQ": ("重庆", ("chongqing",)),
    "SC": ("四川", ("sichuan",)),
    "GZ": ("贵州", ("guizhou",)),
    "YN": ("云南", ("yunnan",)),
    "XZ": ("西藏", ("tibet", "xizang")),
    "SN": ("陕西", ("shaanxi",)),
    "GS": ("甘肃", ("gansu",)),
    "QH": ("青海", ("qinghai",)),
    "NX": ("宁夏", ("ningxia",)),
    "XJ": ("新疆", ("xinjiang",)),
}
US_STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "washington d.c.": "DC", "washington dc": "DC", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA",
    "kansas": "KS", "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD",
    "massachusetts": "MA", "michigan": "MI", "minnesota": "MN", "mississippi": "MS",
    "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI",
    "wyoming": "WY",
}  # fmt: skip
CA_PROVINCE_NAMES = {
    "british columbia": "BC", "alberta": "AB", "saskatchewan": "SK", "manitoba": "MB",
    "ontario": "ON", "quebec": "QC", "québec": "QC", "new brunswick": "NB",
    "nova scotia": "NS", "prince edward island": "PE", "newfoundland and labrador": "NL",
    "newfoundland": "NL", "yukon": "YT", "northwest territories": "NT", "nunavut": "NU",
}  # fmt: skip
REGION_NAMES = {
    "US": US_STATE_NAMES,
    "CA": CA_PROVINCE_NAMES,
    "CN": {name: code for code, (_, names) in CN_PROVINCES.items() for name in names},
}
# The postal code of each country as written in an address (the last one found counts).
POSTAL_PATTERNS = {
    "US": re.compile(r"\b(\d{5})(?:-\d{4})?\b"),
    "CA": re.compile(r"\b([A-Z]\d[A-Z])\s?(\d[A-Z]\d)\b"),
    "GB": re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b"),
    "CN": re.compile(r"(?<!\d)(\d{6})(?!\d)"),
    "AU": re.compile(r"\b(\d{4})\s*$", re.MULTILINE),
}


@dataclass(frozen=True, slots=True)
class Place:
    """Where one address or number puts the person: ``source`` is ``address`` or ``phone``;
    ``where`` names it for ``explain`` without the full value (``address 1``,
    ``phone …0123``)."""

    country: str
    region: str | None
    postal_code: str | None
    source: str
    where: str


def places_of(phones: tuple[str, ...], addresses: tuple[str, ...]) -> tuple[Place, ...]:
    """The places of every address (first) and phone number, in the sorted order of their
    values, so that the order the store returns them in does not matter."""
    found: list[Place] = []
    for index, address in enumerate(sorted(addresses), start=1):
        place = address_place(address, f"address {index}")
        if place is not None:
            found.append(place)
    for number in sorted(phones):
        place = phone_place(number)
        if place is not None:
            found.append(place)
    return tuple(found)


@lru_cache(maxsize=65536)
def address_place(address: str, where: str = "address") -> Place | None:
    """The place of a free-text postal address; None when it names no country."""
    country, region = address_country(address)
    if country is None:
        return None
    if region is None and country == "CN":
        region = _cn_province(address)
    return Place(country, region, _postal_code(country, address), "address", where)


def _cn_province(address: str) -> str | None:
    """The province a Chinese address names first (in characters or in pinyin)."""
    best: tuple[int, str] | None = None
    lowered = address.lower()
    for code, (hanzi, names) in CN_PROVINCES.items():
        for needle, text in ((hanzi, address), *((n, lowered) for n in names)):
            at = text.find(needle)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, code)
    return best[1] if best else None


def _postal_code(country: str, address: str) -> str | None:
    pattern = POSTAL_PATTERNS.get(country)
    if pattern is None:
        return None
    matches = pattern.findall(address.upper())
    if not matches:
        return None
    last = matches[-1]
    return "".join(last) if isinstance(last, tuple) else last


@lru_cache(maxsize=65536)
def phone_place(number: str) -> Place | None:
    """The country and region an E.164 number belongs to; None when it cannot be read."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(parsed)
    if not country or country == "ZZ":
        return None
    # The geocoder loads every country's area-code table when imported (half a second), so
    # it is imported when a number is first placed, not by every command that loads policy.
    from phonenumbers import geocoder

    described = geocoder.description_for_number(parsed, "en")
    return Place(country, _region_named(country, described), None, "phone", f"phone …{number[-4:]}")


def _region_named(country: str, description: str) -> str | None:
    """``Boston, MA`` or ``Massachusetts`` → ``MA``; a city alone (``Shanghai``) where the
    city is a province-level division; None when the description names no region."""
    text = description.strip()
    tail = text.rsplit(",", 1)[-1].strip().upper()
    if "," in text and (tail in US_STATES or tail in CA_PROVINCES):
        return tail
    return REGION_NAMES.get(country, {}).get(text.lower())
