"""``[[jurisdictions]]`` in ``policy.toml``: named places (a country, a state or province, a
list of postal codes or prefixes), each with the preset, overlays and rules that bind the
people who live there.

The rule lists reuse the models of ``policy_file`` (which rebuilds this model once they are
defined); this module holds only what is particular to a place, and the checks across
jurisdictions (unique names, postal-code lists that do not overlap).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from dispatcher.config.values import StrictModel, shown

if TYPE_CHECKING:
    from dispatcher.config.policy_file import DailyCapRule, LimitRule, WindowRule

PresetName = Literal["none", "us-reg-f", "cn", "uk-fca"]
OverlayName = Literal["us-ma", "us-nyc", "uk-fca"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    text = resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text()
    return frozenset(
        line.split("\t", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    )


def postal_key(code: str) -> str:
    """A postal code as codes are compared: upper case, without spaces or hyphens."""
    return re.sub(r"[\s-]", "", code).upper()


class JurisdictionRule(StrictModel):
    """A place and the rules of the people who live there. A person is in the place when an
    address (or, as a weaker candidate, a phone number) is in ``country`` and, when given, in
    ``region`` (a US state, Canadian province or Chinese province, by its ISO 3166-2 code:
    ``MA``, ``ON``, ``SH``) and has a postal code starting with one of ``postal_codes``.
    ``preset``, when given, replaces the file's preset for these people."""

    name: str = Field(pattern=NAME_PATTERN)
    country: str
    region: str | None = None
    postal_codes: tuple[str, ...] = ()
    preset: PresetName | None = None
    overlays: tuple[OverlayName, ...] = ()
    windows: tuple[WindowRule, ...] = ()
    limits: tuple[LimitRule, ...] = ()
    daily_caps: tuple[DailyCapRule, ...] = ()
    consent_required: tuple[str, ...] = ()

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in _countries():
            raise ValueError(f"{shown(value)} is not an ISO 3166 country code (e.g. US, GB, CN)")
        return code

    @field_validator("region")
    @classmethod
    def _region_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{1,3}", code):
            raise ValueError(f"{shown(value)} is not a region code (e.g. MA, ON, SH)")
        return code

    @field_validator("postal_codes")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        keys = tuple(postal_key(code) for code in value)
        bad = [code for code, key in zip(value, keys, strict=True) if not key.isalnum()]
        if bad:
            raise ValueError(f"{shown(bad[0])} is not a postal code or prefix")
        return keys


def jurisdiction_problems(rules: tuple[Any, ...], default: str | None) -> list[str]:
    """What is wrong across ``rules``: a name used twice, a default naming no jurisdiction,
    two postal-code lists of one country where a code of one starts with a code of the
    other (a person there would be in both for no stated reason)."""
    problems: list[str] = []
    names = [rule.name for rule in rules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"jurisdiction {name!r} is defined more than once")
    if default is not None and default not in names:
        known = ", ".join(names) or "none defined"
        problems.append(f"default_jurisdiction {default!r} is not a jurisdiction ({known})")
    for index, first in enumerate(rules):
        for second in rules[index + 1 :]:
            if first.country != second.country:
                continue
            shared = _overlap(first.postal_codes, second.postal_codes)
            if shared is not None:
                problems.append(
                    f"jurisdictions {first.name!r} and {second.name!r} overlap: "
                    f"postal code {shared[0]!r} and {shared[1]!r}"
                )
    return problems


def _overlap(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, str] | None:
    for a in first:
        for b in second:
            if a.startswith(b) or b.startswith(a):
                return a, b
    return None
