"""One row → a person and a case, validated the same way for every source (import files,
the API).

Each row holds one case and its person (flat keys: ``person_id, name, locale, timezone,
phone, email, address, case_id, amount, currency, due_date, schedule``; several phones or
emails separated by ``;`` in CSV or given as lists in JSON). A bad row is reported with its
row number, field and value (personal values masked) and skipped; good rows are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dispatcher.privacy import mask_email, mask_phone
from dispatcher.store.api import CaseIn, PersonIn

FIELDS = (
    "person_id",
    "name",
    "locale",
    "timezone",
    "phone",
    "email",
    "address",
    "case_id",
    "amount",
    "currency",
    "due_date",
    "schedule",
    "state",
)
PERSON_REQUIRED = ("person_id", "name")
CASE_REQUIRED = ("case_id", "amount", "currency", "due_date")
REQUIRED = (*PERSON_REQUIRED, *CASE_REQUIRED)
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PII_FIELDS = {"name", "phone", "email", "address"}


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass(frozen=True)
class GoodRow:
    row: int
    person: PersonIn
    case: CaseIn


def _shown(field: str, value: Any) -> str:
    text = str(value)
    if field == "phone":
        return mask_phone(text)
    if field == "email":
        return mask_email(text)
    if field in _PII_FIELDS:
        return "(hidden)"
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _many(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


class _Findings:
    """The errors found in one row, each with its field and (masked) value."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.errors: list[RowError] = []

    def bad(self, field: str, message: str, value: Any = None) -> None:
        suffix = f" (got {_shown(field, value)})" if value not in (None, "") else ""
        self.errors.append(RowError(self.number, field, message + suffix))

    def require(self, row: dict[str, Any], keys: Iterable[str]) -> None:
        for key in keys:
            if not _text(row, key):
                self.bad(key, "required")


def _phones(raw_values: list[str], region: str | None, found: _Findings) -> list[str]:
    phones: list[str] = []
    for raw in raw_values:
        try:
            parsed = phonenumbers.parse(raw, region)
            if not phonenumbers.is_valid_number(parsed):
                raise phonenumbers.NumberParseException(1, "invalid")
            phones.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            found.bad("phone", "not a valid phone number (use E.164, e.g. +14155550123)", raw)
    return phones


def _person(
    row: dict[str, Any], found: _Findings, *, default_locale: str, default_region: str | None
) -> PersonIn:
    locale = _text(row, "locale") or default_locale
    if not _LOCALE.match(locale):
        found.bad("locale", "not a locale like en or zh-CN", locale)
    timezone = _text(row, "timezone") or None
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            found.bad("timezone", "not a known time zone (e.g. Asia/Shanghai)", timezone)
    phones = _phones(_many(row.get("phone")), default_region, found)
    emails = _many(row.get("email"))
    for raw in emails:
        if not _EMAIL.match(raw):
            found.bad("email", "not an email address", raw)
    addresses = (
        [a.replace("\\n", "\n") for a in _many(row.get("address"))] if row.get("address") else []
    )
    if not (phones or emails or addresses) and not any(
        e.field in ("phone", "email") for e in found.errors
    ):
        found.bad("phone", "no contact point: give a phone, an email or an address")
    return PersonIn(
        id=_text(row, "person_id"),
        name=_text(row, "name"),
        locale=locale,
        timezone=timezone,
        phones=tuple(phones),
        emails=tuple(emails),
        addresses=tuple(addresses),
    )


def _case(
    row: dict[str, Any],
    found: _Findings,
    *,
    schedules: Iterable[str] | None,
    default_schedule: str | None,
) -> CaseIn | None:
    amount = _text(row, "amount")
    if amount:
        try:
            value = Decimal(amount)
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            found.bad("amount", "not a positive amount", amount)
    currency = _text(row, "currency").upper()
    if currency and not _CURRENCY.match(currency):
        found.bad("currency", "not a 3-letter currency code", _text(row, "currency"))
    due_text = _text(row, "due_date")
    due: date | None = None
    if due_text:
        try:
            due = date.fromisoformat(due_text)
        except ValueError:
            found.bad("due_date", "not a date (YYYY-MM-DD)", due_text)
    schedule = _text(row, "schedule") or default_schedule or ""
    known = list(schedules) if schedules is not None else None
    if not schedule:
        found.bad("schedule", "required (no default schedule configured)")
    elif known is not None and schedule not in known:
        found.bad("schedule", f"unknown schedule (known: {', '.join(sorted(known))})", schedule)
    state = _text(row, "state") or "open"
    if state not in ("open", "paid", "plan", "hardship", "disputed", "ceased", "closed"):
        found.bad("state", "not a case state", state)
    if found.errors or due is None:
        return None
    return CaseIn(
        id=_text(row, "case_id"),
        person_id=_text(row, "person_id"),
        amount=str(Decimal(amount)),
        currency=currency,
        due_date=due,
        schedule=schedule,
        state=state,
    )


def parse_person(
    row: dict[str, Any], *, default_locale: str, default_region: str | None
) -> PersonIn | list[RowError]:
    """Validate a person alone (keys ``person_id, name, locale, timezone, phone, email,
    address``), as the API's person upsert does; errors carry row number 1."""
    found = _Findings(1)
    found.require(row, PERSON_REQUIRED)
    person = _person(row, found, default_locale=default_locale, default_region=default_region)
    return found.errors or person


def parse_case(row: dict[str, Any], *, schedules: Iterable[str] | None) -> CaseIn | list[RowError]:
    """Validate a case alone (keys ``case_id, person_id, amount, currency, due_date,
    schedule, state``), as the API's case upsert does; errors carry row number 1."""
    found = _Findings(1)
    found.require(row, ("person_id", *CASE_REQUIRED))
    case = _case(row, found, schedules=schedules, default_schedule=None)
    if found.errors or case is None:
        return found.errors
    return case


def parse_row(
    number: int,
    row: dict[str, Any],
    *,
    schedules: Iterable[str] | None,
    default_schedule: str | None,
    default_locale: str,
    default_region: str | None,
) -> GoodRow | list[RowError]:
    """Validate one row; return it as a person and a case, or every error in it."""
    found = _Findings(number)
    for key in sorted(set(row) - set(FIELDS)):
        found.bad(key, "unknown column")
    found.require(row, REQUIRED)
    person = _person(row, found, default_locale=default_locale, default_region=default_region)
    case = _case(row, found, schedules=schedules, default_schedule=default_schedule)
    if found.errors or case is None:
        return found.errors
    return GoodRow(number, person, case)
