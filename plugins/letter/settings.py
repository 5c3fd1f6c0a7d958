"""What admins write under ``[channels.<name>]`` with ``plugin = "letter"``."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from dispatcher.channel import ChannelSettings, Duration
from dispatcher.content import DEBT_WORDS

COUNTRY = r"^[A-Z]{2}$"


def no_debt_wording(value: str) -> str:
    """Reg F §1006.10(b)(4): nothing on the envelope or through its window may say the letter
    is about a debt."""
    match = DEBT_WORDS.search(value)
    if match:
        raise ValueError(
            f"{match.group(0)!r} would show through the envelope window; the address block "
            "must not say the letter is about a debt (Reg F §1006.10(b)(4))"
        )
    return value


class SenderAddress(BaseModel):
    """The return address printed above the recipient's, and Lob's ``from``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40, description="the company, as on the envelope")
    address_line1: str = Field(min_length=1, max_length=64)
    address_line2: str | None = Field(None, max_length=64)
    city: str = Field(min_length=1, max_length=200)
    state: str | None = Field(None, max_length=200, description="US: two letters")
    zip: str | None = Field(None, max_length=12)
    country: str = Field("US", pattern=COUNTRY, description="ISO 3166 alpha-2")

    @field_validator("name", "address_line1", "address_line2")
    @classmethod
    def _shown_in_window(cls, value: str | None) -> str | None:
        return value if value is None else no_debt_wording(value)

    def lines(self) -> list[str]:
        place = " ".join(part for part in (self.city, self.state, self.zip) if part)
        return [
            line
            for line in (self.name, self.address_line1, self.address_line2, place)
            if line is not None
        ]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LetterSettings(ChannelSettings):
    """Rendering, the provider that posts the letter, and that provider's settings."""

    provider: Literal["spool", "lob"] = Field(
        "spool", description="spool: PDFs for a print house; lob: Lob's print-and-mail API"
    )
    page_size: Literal["A4", "letter"] = Field(
        "A4", validate_default=True, description="A4 or US letter"
    )
    sender: SenderAddress = Field(description="the return address (a [channels.X.sender] table)")
    font: Path | None = Field(
        None, description="a TrueType font (.ttf/.ttc) with Latin and CJK; default: bundled"
    )
    # spool
    directory: Path = Field(Path("var/letters"), description="where <attempt>.pdf/.json go")
    fsync: bool = Field(True, description="fsync each file before it is renamed into place")
    # lob
    base_url: str = Field("https://api.lob.com", description="Lob's API root")
    api_key: SecretStr = Field(
        SecretStr(""),
        validate_default=True,
        description='"${LOB_API_KEY}" (needed with provider lob)',
    )
    timeout: Duration = Field(timedelta(seconds=30), description="for the whole request")
    use_type: Literal["operational", "marketing"] = "operational"
    mail_type: Literal["usps_first_class", "usps_standard"] = "usps_first_class"
    extra_service: Literal["certified", "certified_return_receipt", "registered"] | None = None
    color: bool = False
    send_delay: Duration = Field(
        timedelta(0), description="post this long after the send (Lob send_date); 0 = now"
    )
    default_country: str = Field(
        "US", pattern=COUNTRY, description="country of an address whose last line is not one"
    )

    @field_validator("page_size")
    @classmethod
    def _page_size(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("provider") == "lob" and value != "letter":
            raise ValueError(f"{value!r}: Lob prints on US letter paper; set page_size = 'letter'")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        # The request carries a home address and a debt: it must not cross a network in clear.
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://api.lob.com)")
        if url.scheme == "http" and not is_loopback(url.hostname):
            raise ValueError(f"{value!r}: must use https:// (http:// only to this machine)")
        return value.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("provider") == "lob" and len(value.get_secret_value()) < 8:
            raise ValueError('provider "lob" needs an API key: api_key = "${LOB_API_KEY}"')
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=100) <= value <= timedelta(minutes=2):
            raise ValueError("must be between 100ms and 2m")
        return value

    @field_validator("font")
    @classmethod
    def _font(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in (".ttf", ".ttc"):
            raise ValueError(f"{str(value)!r}: give a TrueType font file (.ttf or .ttc)")
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)!r}: no such font file")
        return value
