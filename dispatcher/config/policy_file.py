"""``policy.toml``: the contact policy's rules (windows, rolling limits, daily caps, the gap
between contacts, the cooldown after a conversation, holidays), the preset and overlays they
add to, and what a voicemail may contain."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dispatcher.config.durations import Duration
from dispatcher.config.jurisdictions import (
    JurisdictionRule,
    OverlayName,
    PresetName,
    jurisdiction_problems,
)
from dispatcher.config.values import Clock, Days, StrictModel, TimeZoneName
from dispatcher.model import UNKNOWN_LINE, PhoneLine


class _NamedRule(StrictModel):
    """A rule in a list. ``name`` lets a later layer (overlay, policy.toml) change or drop
    (``enabled = false``) a preset's rule of the same name; ``origin`` is filled in when
    presets are merged and names where the rule came from."""

    name: str | None = None
    enabled: bool = True
    origin: str = ""


class WindowRule(_NamedRule):
    """When a channel may contact a person, in the person's local time. ``to`` earlier than
    ``from`` means the window crosses midnight (it belongs to the day it starts on)."""

    channels: tuple[str, ...] = ("*",)
    days: Days = tuple(range(7))
    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")

    @model_validator(mode="after")
    def _not_empty(self) -> WindowRule:
        if self.start == self.end:
            raise ValueError("from and to are equal: the window would be empty")
        return self


# The phone lines a limit may be narrowed to: those the store keeps, and ``unknown`` for a
# number whose line is not known.
LINE_NAMES = (*(line.value for line in PhoneLine), UNKNOWN_LINE)


class LimitRule(_NamedRule):
    """At most ``max`` counted attempts on ``channels`` in any rolling ``per``. ``lines``
    narrows it to phone numbers of those lines: it counts only attempts made to such numbers
    and binds only a reminder that would go to one (209 CMR 18.16: 2 per 7 days to a residence
    or mobile number, 2 per 30 days to any other)."""

    channels: tuple[str, ...] = ("*",)
    max: int = Field(ge=0)
    per: Duration
    scope: Literal["person", "case", "contact"] = "person"
    lines: tuple[str, ...] | None = None

    @field_validator("lines")
    @classmethod
    def _known_lines(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError(f"lines is empty: name at least one of {', '.join(LINE_NAMES)}")
        for line in value:
            if line not in LINE_NAMES:
                raise ValueError(f"unknown line type {line!r} (known: {', '.join(LINE_NAMES)})")
        return value

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("per must be longer than zero")
        return value


class DailyCapRule(_NamedRule):
    """At most ``max`` attempts of a kind on ``channels`` per calendar day in the person's
    local time, counted per ``scope``; the count starts again at local midnight.
    ``count``: ``attempts`` (every counted attempt), ``conversations`` (connected
    conversations, and calls still in flight or of unknown outcome) or ``unanswered``
    (counted attempts that did not become a conversation)."""

    channels: tuple[str, ...] = ("voice",)
    max: int = Field(ge=0)
    scope: Literal["person", "case", "contact"] = "person"
    count: Literal["attempts", "conversations", "unanswered"] = "attempts"


class GapRule(StrictModel):
    """Minimum time between two contacts to one person on these channels."""

    every: Duration = timedelta(0)
    channels: tuple[str, ...] = ("*",)
    origin: str = ""


class CooldownRule(StrictModel):
    """After a real conversation, no contact on ``channels`` for ``per`` (same scope).
    ``calendar = true`` counts whole local days with the conversation's day as day 1: a
    ``7d`` cooldown then ends at the start of local day 8."""

    channels: tuple[str, ...] = ("voice",)
    per: Duration = timedelta(days=7)
    scope: Literal["person", "case"] = "case"
    calendar: bool = False
    origin: str = ""


def _country(value: Any) -> str:
    import holidays

    code = str(value).upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(f"{value!r} is not a holiday calendar (use an ISO code, e.g. US, CN)")
    return code


class HolidayRule(_NamedRule):
    """Public holidays of ``calendar`` (an ISO country code, optionally a ``subdivision``)
    are closed days for ``channels``, for people whose time zone is one of ``zones``
    (default: every zone of that country)."""

    calendar: Annotated[str, BeforeValidator(_country)]
    subdivision: str | None = None
    channels: tuple[str, ...] = ("*",)
    zones: tuple[TimeZoneName, ...] = ()

    @model_validator(mode="after")
    def _subdivision_known(self) -> HolidayRule:
        import holidays

        if self.subdivision is not None:
            known = holidays.list_supported_countries().get(self.calendar, [])
            if self.subdivision not in known:
                raise ValueError(
                    f"{self.subdivision!r} is not a subdivision of {self.calendar} "
                    f"(known: {', '.join(known[:12])}{' …' if len(known) > 12 else ''})"
                )
        return self


JurisdictionRule.model_rebuild(
    _types_namespace={
        "WindowRule": WindowRule,
        "LimitRule": LimitRule,
        "DailyCapRule": DailyCapRule,
    }
)


class ArrangementBounds(StrictModel):
    """What an arrangement may be (UK FCA CONC 7.3: forbearance within the customer's means,
    never one lump). ``grace``: how long after an instalment's due date (the end of that day
    in the person's time zone) it may still be paid before the arrangement breaks;
    ``longest``: from today to the last instalment; ``min_instalment`` (in the case's
    currency) and ``min_share`` (of the balance when the arrangement is made): each but the
    last instalment must reach both; ``max_broken``: broken arrangements of a case after
    which the person's own page offers none (kept for it; not yet used)."""

    grace: Duration = timedelta(days=3)
    longest: Duration = timedelta(days=365)
    min_instalment: Decimal = Field(Decimal(0), ge=0)
    min_share: Decimal = Field(Decimal(0), ge=0, le=1)
    max_instalments: int = Field(12, ge=1, le=1000)
    max_broken: int = Field(2, ge=0)

    @field_validator("longest")
    @classmethod
    def _longest_positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            raise ValueError("longest must be at least 1d")
        return value

    @field_validator("grace")
    @classmethod
    def _grace_not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("grace must not be negative")
        return value


class PolicyFile(StrictModel):
    preset: PresetName = "none"
    overlays: tuple[OverlayName, ...] = ()  # for everyone; a jurisdiction's for its people
    jurisdictions: tuple[JurisdictionRule, ...] = ()
    default_jurisdiction: str | None = None  # for a person with no place on file
    # Channels that may reach a person only on a contact point with consent on file.
    consent_required: tuple[str, ...] = ()
    jitter: Duration = timedelta(minutes=20)
    hold_recheck: Duration = timedelta(days=1)
    window_exempt: tuple[str, ...] = ()
    windows: tuple[WindowRule, ...] = ()
    limits: tuple[LimitRule, ...] = ()
    daily_caps: tuple[DailyCapRule, ...] = ()
    holidays: tuple[HolidayRule, ...] = ()
    min_gap: GapRule = Field(default_factory=GapRule)
    cooldown: CooldownRule | None = None
    arrangements: ArrangementBounds = Field(default_factory=ArrangementBounds)
    # Reg F §1006.2(j): what a voicemail may contain. `check` rejects anything else.
    voicemail_channels: tuple[str, ...] = ("voice",)
    limited_content_vars: tuple[str, ...] = (
        "company",
        "company_zh",
        "callback_number",
        "contact_person",
        "contact_person_zh",
        "person.name",
        "person.first_name",
    )

    @model_validator(mode="after")
    def _jurisdictions_agree(self) -> PolicyFile:
        problems = jurisdiction_problems(self.jurisdictions, self.default_jurisdiction)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("hold_recheck")
    @classmethod
    def _recheck_positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("hold_recheck must be at least 1m")
        return value
