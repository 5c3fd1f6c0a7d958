"""The recipient of a letter: the name the template puts first, and the stored postal address.

A postal contact point is stored as its lines, separated by line breaks (a single line may
separate them with commas), without the person's name: the street first, the place last
(``City, ST 12345`` in the US), optionally a last line that is an ISO country code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatcher.content import DEBT_WORDS

US_PLACE = re.compile(r"^(?P<city>.+?),?\s+(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}(?:-\d{4})?)$")
COUNTRY_LINE = re.compile(r"^[A-Z]{2}$")


class AddressError(ValueError):
    """The address or the addressee block cannot be used; the text names no personal data."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who the letter goes to, as printed in the envelope window."""

    name: str
    lines: tuple[str, ...]
    country: str

    def window_lines(self) -> list[str]:
        return [self.name, *self.lines]

    def lob_fields(self) -> dict[str, str]:
        """Lob's inline address (``address_us`` or ``address_intl``)."""
        fields = {"name": self.name, "address_line1": self.lines[0]}
        street, place = list(self.lines[:-1]), self.lines[-1]
        if self.country == "US":
            match = US_PLACE.match(place)
            if match is None or not street:
                raise AddressError("a US address needs a last line like 'City, ST 12345'")
            if len(street) > 1:
                fields["address_line2"] = " ".join(street[1:])
            fields.update(
                address_city=match["city"].strip(),
                address_state=match["state"],
                address_zip=match["zip"],
                address_country="US",
            )
            return fields
        if len(self.lines) > 2:
            fields["address_line2"] = " ".join(self.lines[1:-1])
        fields.update(
            address_city=place if len(self.lines) > 1 else "", address_country=self.country
        )
        return fields


def address_lines(contact: str) -> list[str]:
    lines = [line.strip() for line in contact.replace("\r", "").split("\n")]
    if len(lines) == 1:
        lines = [part.strip() for part in contact.split(",")]
    return [line for line in lines if line]


def addressee_and_letter(body: str) -> tuple[str, str]:
    """Split a rendered letter into its first paragraph (the addressee's name, printed in the
    window) and the rest (the letter itself)."""
    head, _, rest = body.strip().partition("\n\n")
    name = " ".join(head.split())
    if not name or len(name) > 80:
        raise AddressError(
            "a letter template starts with the addressee's name alone, then a blank line"
        )
    match = DEBT_WORDS.search(name)
    if match:
        raise AddressError(
            f"the addressee block says {match.group(0)!r}: nothing in the envelope window may "
            "say the letter is about a debt (Reg F §1006.10(b)(4))"
        )
    return name, rest.strip("\n")


def recipient(name: str, contact: str, default_country: str) -> Recipient:
    lines = address_lines(contact)
    country = default_country
    if len(lines) > 1 and COUNTRY_LINE.match(lines[-1]):
        country = lines.pop()
    if not lines:
        raise AddressError("the postal address is empty")
    if any(DEBT_WORDS.search(line) for line in lines):
        raise AddressError("the postal address carries wording about a debt")
    return Recipient(name, tuple(lines), country)
