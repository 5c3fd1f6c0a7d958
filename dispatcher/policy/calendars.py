"""Public holidays as closed days, built once when the policy is compiled.

The ``holidays`` package gives each jurisdiction's dates; a compiled ``ClosedDays`` is a plain
set of local dates (and their names, for reasons), so a decision only looks a date up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from dispatcher.policy.zones import COUNTRY_ZONE_OVERRIDES, country_zones

# Decisions look at most a few weeks ahead; these years cover any deployment's lifetime.
FIRST_YEAR, LAST_YEAR = 2020, 2045


@dataclass(frozen=True, eq=False)
class ClosedDays:
    """Local dates on which ``channels`` are closed for people in ``zones``."""

    calendar: str
    channels: frozenset[str]
    zones: frozenset[str]
    days: frozenset[date]
    names: dict[date, str] = field(default_factory=dict)
    rule: str = ""

    def applies_to(self, channel: str) -> bool:
        return "*" in self.channels or channel in self.channels

    def label(self) -> str:
        return self.calendar


@lru_cache(maxsize=64)
def holiday_dates(calendar: str, subdivision: str | None) -> dict[date, str]:
    """Every holiday of ``calendar`` (ISO country) in FIRST_YEAR..LAST_YEAR, with its name."""
    import holidays

    found = holidays.country_holidays(
        calendar, subdiv=subdivision, years=range(FIRST_YEAR, LAST_YEAR + 1)
    )
    return dict(found.items())


def closed_days(
    calendar: str,
    subdivision: str | None,
    channels: tuple[str, ...],
    zones: tuple[str, ...],
    rule: str = "",
) -> ClosedDays:
    """A compiled holiday rule; without ``zones`` it binds people in the country's zones."""
    if not zones:
        zones = COUNTRY_ZONE_OVERRIDES.get(calendar) or country_zones().get(calendar, ())
        if calendar == "CN":
            zones = (*zones, "Asia/Urumqi")
    dates = holiday_dates(calendar, subdivision)
    name = calendar + (f"-{subdivision}" if subdivision else "")
    return ClosedDays(
        calendar=name,
        channels=frozenset(channels),
        zones=frozenset(zones),
        days=frozenset(dates),
        names=dates,
        rule=rule,
    )
