"""One row → a person and a case, validated the same way for every source (import files,
the API).

Each row holds one case and its person (flat keys: ``person_id, name, locale, timezone,
phone, email, address, case_id, amount, currency, due_date, schedule, state, consent``, and
the person's wishes ``refuse, contact_hours, language``, and a Breathing Space moratorium on
the case ``breathing_space, breathing_space_start, breathing_space_until,
breathing_space_crisis_ends`` (``intake.moratoria``); several phones, emails, consents,
refused channels or contact hours separated by ``;`` in CSV or given as lists in JSON; a
phone number's line before it, ``mobile:``, ``residence:``, ``work:`` or ``other:``). A
bad row is reported with its row number, field and value (personal values masked) and
skipped; good rows are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, TypeVar
from zoneinfo import available_timezones

import phonenumbers

from dispatcher.intake.moratoria import COLUMNS as MORATORIUM_COLUMNS
from dispatcher.intake.moratoria import MoratoriumIn, read_moratorium
from dispatcher.intake.wishes import (
    CHANNEL_PATTERN,
    LOCALE_PATTERN,
    MOST_HOURS,
    known_channel,
    language,
    parse_hours,
)
from dispatcher.model import PhoneLine, Wishes
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
    "consent",
    "refuse",
    "contact_hours",
    "language",
    *MORATORIUM_COLUMNS,
)
T = TypeVar("T")
PERSON_REQUIRED = ("person_id", "name")
CASE_REQUIRED = ("case_id", "amount", "currency", "due_date")
REQUIRED = (*PERSON_REQUIRED, *CASE_REQUIRED)
CASE_STATES = (
    "open",
    "paid",
    "plan",
    "hardship",
    "disputed",
    "ceased",
    "closed",
    "bankrupt",
    "deceased",
)

# The one rule for ids of people and cases, in files, batches, the CLI and API paths: ASCII
# letters, digits and ``._:-``, starting with a letter or digit, at most 128 characters. The
# anchors suit JSON Schema and pydantic; in Python match it with ``is_id`` (``$`` alone would
# let a final newline through).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
# Amounts as the API takes them: a plain positive decimal, at most 15 digits and 4 decimals.
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"
# Longest value per field (the API's bounds and the store's column widths).
LIMITS = {
    "name": 200,
    "locale": 32,
    "timezone": 64,
    "phone": 50,  # a number with its line before it: residence:+16175550123
    "email": 254,
    "address": 500,
    "schedule": 64,
    "currency": 3,
    "due_date": 10,
    "state": 16,
}
# The due dates a case may have: a schedule's steps lie days to months around it, and a
# date past this bound (a typo such as 9999-12-25) would put them beyond the instants the
# planner and the store can hold.
DUE_DATES = (date(1970, 1, 1), date(2199, 12, 31))
# Most values a person may have per kind of contact point.
MOST = {"phone": 10, "email": 10, "address": 5, "refuse": 10, "contact_hours": MOST_HOURS}

_ID = re.compile(ID_PATTERN)
_AMOUNT = re.compile(AMOUNT_PATTERN)
_LOCALE = re.compile(LOCALE_PATTERN)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CHANNEL = re.compile(CHANNEL_PATTERN)
_CURRENCY = re.compile(r"[A-Z]{3}")
# Characters no stored value may hold: controls (a line break only in an address) and lone
# surrogates (undecodable bytes or a JSON escape naming no character; no database stores them).
_UNFIT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNFIT_ADDRESS = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_PII_FIELDS = {"name", "phone", "email", "address"}
# A phone number's line, named before it: ``work:+16175550123``.
_LINES = {line.value: line for line in PhoneLine}
_LINE_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,19}")  # shown in an error; anything else is not
LINE_HELP = "mobile, residence, work or other, e.g. work:+16175550123"


def is_id(text: str) -> bool:
    """Whether ``text`` is a valid id of a person or a case (see ``ID_PATTERN``)."""
    return _ID.fullmatch(text) is not None


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names a person may have (``available_timezones``, read once)."""
    return frozenset(available_timezones())


def is_time_zone(text: str) -> bool:
    """Whether ``text`` names a time zone (not a tzdata folder such as ``America``)."""
    return len(text) <= LIMITS["timezone"] and text in time_zones()


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
    moratorium: MoratoriumIn | None = None  # a Breathing Space the row gives the case


def _shown(field: str, value: Any) -> str:
    text = str(value)
    if field == "phone":
        return mask_phone(text)
    if field == "email":
        return mask_email(text)
    if field in _PII_FIELDS:
        return "(hidden)"
    text = text if len(text) <= 60 else text[:57] + "..."
    return ascii(text) if _UNFIT.search(text) else repr(text)


def _column(name: str) -> str:
    """A column's name as shown in an error: escaped and cut short when it is not plain."""
    return _shown("(column)", name)[1:-1] if _UNFIT.search(name) or len(name) > 60 else name


class _Findings:
    """The errors found in one row, each with its field and (masked) value."""

    def __init__(self, number: int, row: dict[str, Any]) -> None:
        self.number = number
        self.errors: list[RowError] = []
        # One look over the whole row: in the usual row no value needs its own.
        plain = [v for k, v in row.items() if k != "address" and v.__class__ is str]
        address = row.get("address")
        self.suspect = _UNFIT.search("".join(plain)) is not None or (
            address.__class__ is str and _UNFIT_ADDRESS.search(address) is not None
        )

    def bad(self, field: str, message: str, value: Any = None) -> None:
        suffix = f" (got {_shown(field, value)})" if value not in (None, "") else ""
        self.errors.append(RowError(self.number, field, message + suffix))

    def text(self, row: dict[str, Any], key: str) -> str:
        """``row[key]`` as stripped text ("" when absent), or "" with an error when it is not
        a fit scalar value."""
        value = row.get(key)
        if value.__class__ is str:
            text = value.strip()
        elif value is None:
            return ""
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
        else:
            self.bad(key, "not a text value")
            return ""
        return self.fit(key, text)

    def fit(self, key: str, text: str) -> str:
        """``text`` if within its field's bound and free of unfit characters, else ""."""
        limit = LIMITS.get(key, 128)
        if len(text) > limit:
            self.bad(key, f"longer than {limit} characters", text)
            return ""
        if self.suspect and (_UNFIT_ADDRESS if key == "address" else _UNFIT).search(text):
            self.bad(key, "holds control characters or bytes that are not text", text)
            return ""
        return text

    def many(self, row: dict[str, Any], key: str) -> list[str]:
        """``row[key]`` as a list of values (a JSON list, or text split at ``;``)."""
        value = row.get(key)
        if not value:
            return []
        if value.__class__ is str:
            items = value.split(";")
        elif isinstance(value, list):
            items = value
        else:
            items = [value]
        out: list[str] = []
        for item in items:
            if item.__class__ is not str and (not isinstance(item, int) or isinstance(item, bool)):
                self.bad(key, "not a text value")
                return []
            text = str(item).strip()
            if text:
                text = self.fit(key, text)
                if text:
                    out.append(text)
        if len(out) > MOST[key]:
            self.bad(key, f"more than {MOST[key]} values")
            return []
        return out

    def require(self, row: dict[str, Any], keys: Iterable[str]) -> None:
        for key in keys:
            value = row.get(key)
            if value is None or (value.__class__ is str and not value.strip()):
                self.bad(key, "required")


@lru_cache(maxsize=4096)
def _e164(raw: str, region: str | None) -> str | None:
    # Remembered: a person with several cases repeats the same numbers row after row.
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _phones(
    raw_values: list[str], region: str | None, found: _Findings
) -> list[tuple[str, PhoneLine | None]]:
    """Each number in E.164 with its line: ``work:+16175550123`` (a line named before a
    colon), or ``+16175550123`` alone (line not known)."""
    phones: list[tuple[str, PhoneLine | None]] = []
    for raw in raw_values:
        line: PhoneLine | None = None
        if ":" in raw:
            named, _, raw = (part.strip() for part in raw.partition(":"))
            line = _LINES.get(named.lower())
            if line is None:
                shown = f" {named!r}" if _LINE_WORD.fullmatch(named) else ""
                found.bad("phone", f"unknown line type{shown} before ':' ({LINE_HELP})")
                continue
        phone = _e164(raw, region)
        if phone is None:
            found.bad("phone", "not a valid phone number (use E.164, e.g. +14155550123)", raw)
        else:
            phones.append((phone, line))
    return phones


def _id(row: dict[str, Any], key: str, found: _Findings) -> str:
    text = found.text(row, key)
    if text and not is_id(text):
        found.bad(
            key,
            "not an id (letters, digits and . _ : -, starting with a letter or digit, "
            "at most 128 characters)",
            text,
        )
    return text


def _person(
    row: dict[str, Any], found: _Findings, *, default_locale: str, default_region: str | None
) -> PersonIn:
    person_id = _id(row, "person_id", found)
    locale = found.text(row, "locale") or default_locale
    if not _LOCALE.fullmatch(locale):
        found.bad("locale", "not a locale like en or zh-CN", locale)
    timezone = found.text(row, "timezone") or None
    if timezone and not is_time_zone(timezone):
        found.bad("timezone", "not a known time zone (e.g. Asia/Shanghai)", timezone)
    typed = _phones(found.many(row, "phone"), default_region, found)
    phones = [phone for phone, _ in typed]
    emails = found.many(row, "email")
    for raw in emails:
        if not _EMAIL.fullmatch(raw):
            found.bad("email", "not an email address", raw)
    addresses = [a.replace("\\n", "\n").replace("\r\n", "\n") for a in found.many(row, "address")]
    if not (phones or emails or addresses) and not any(
        e.field in ("phone", "email", "address") for e in found.errors
    ):
        found.bad("phone", "no contact point: give a phone, an email or an address")
    return PersonIn(
        id=person_id,
        name=found.text(row, "name"),
        locale=locale,
        timezone=timezone,
        phones=tuple(phones),
        phone_lines=tuple(line for _, line in typed) if any(line for _, line in typed) else (),
        emails=tuple(emails),
        addresses=tuple(addresses),
        consents=_consents(found.many(row, "consent"), (*phones, *emails, *addresses), found),
        wishes=_wishes(row, found),
    )


def _wishes(row: dict[str, Any], found: _Findings) -> Wishes | None:
    """The person's wishes (``refuse``: channels; ``contact_hours``: wishes as
    ``intake.wishes`` reads them; ``language``), or None when the row gives none."""
    refused, hours = found.many(row, "refuse"), found.many(row, "contact_hours")
    wished = found.text(row, "language")
    if not (refused or hours or wished):
        return None
    languages = _read(found, "language", [wished] if wished else [], language)
    return Wishes(
        refused=_read(found, "refuse", refused, lambda name: known_channel(name, None)),
        hours=_read(found, "contact_hours", hours, parse_hours),
        language=languages[0] if languages else None,
    )


def _read(found: _Findings, key: str, values: list[str], read: Callable[[str], T]) -> tuple[T, ...]:
    """Each of ``values`` as ``read`` reads it, once; what it refuses is an error of ``key``."""
    out: list[T] = []
    for value in values:
        try:
            out.append(read(value))
        except ValueError as exc:
            found.bad(key, str(exc))
    return tuple(dict.fromkeys(out))


def _consents(
    raw_values: list[str], contacts: tuple[str, ...], found: _Findings
) -> tuple[tuple[str, str | None], ...]:
    """``email`` (consent to the channel on every contact point) or ``email:<address>`` (on
    that one, which the row must give)."""
    consents: list[tuple[str, str | None]] = []
    for raw in raw_values:
        channel, _, contact = (part.strip() for part in raw.partition(":"))
        if not _CHANNEL.fullmatch(channel):
            found.bad("consent", "not a channel name, or channel:contact", raw)
        elif contact and contact not in contacts:
            found.bad("consent", "names a contact point the row does not give", raw)
        else:
            consents.append((channel, contact or None))
    return tuple(consents)


def _case(
    row: dict[str, Any],
    found: _Findings,
    *,
    person_id: str,
    schedules: Iterable[str] | None,
    default_schedule: str | None,
) -> CaseIn | None:
    case_id = _id(row, "case_id", found)
    amount = found.text(row, "amount")
    if amount and not (_AMOUNT.fullmatch(amount) and Decimal(amount) > 0):
        found.bad("amount", "not a positive amount (digits, at most 4 decimals)", amount)
    raw_currency = found.text(row, "currency")
    currency = raw_currency.upper()
    if currency and not _CURRENCY.fullmatch(currency):
        found.bad("currency", "not a 3-letter currency code", raw_currency)
    due_text = found.text(row, "due_date")
    due: date | None = None
    if due_text:
        try:
            due = date.fromisoformat(due_text)
        except ValueError:
            found.bad("due_date", "not a date (YYYY-MM-DD)", due_text)
        if due is not None and not DUE_DATES[0] <= due <= DUE_DATES[1]:
            first, last = DUE_DATES
            found.bad("due_date", f"not between {first} and {last}", due_text)
            due = None
    schedule = found.text(row, "schedule") or default_schedule or ""
    known = list(schedules) if schedules is not None else None
    if not schedule:
        found.bad("schedule", "required (no default schedule configured)")
    elif known is not None and schedule not in known:
        found.bad("schedule", f"unknown schedule (known: {', '.join(sorted(known))})", schedule)
    state = found.text(row, "state") or "open"
    if state not in CASE_STATES:
        found.bad("state", "not a case state", state)
    if found.errors or due is None:
        return None
    return CaseIn(
        id=case_id,
        person_id=person_id,
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
    found = _Findings(1, row)
    found.require(row, PERSON_REQUIRED)
    person = _person(row, found, default_locale=default_locale, default_region=default_region)
    return found.errors or person


def parse_case(row: dict[str, Any], *, schedules: Iterable[str] | None) -> CaseIn | list[RowError]:
    """Validate a case alone (keys ``case_id, person_id, amount, currency, due_date,
    schedule, state``), as the API's case upsert does; errors carry row number 1."""
    found = _Findings(1, row)
    found.require(row, ("person_id", *CASE_REQUIRED))
    person_id = _id(row, "person_id", found)
    case = _case(row, found, person_id=person_id, schedules=schedules, default_schedule=None)
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
    found = _Findings(number, row)
    for key in sorted(set(row) - set(FIELDS)):
        found.bad(_column(key), "unknown column")
    found.require(row, REQUIRED)
    person = _person(row, found, default_locale=default_locale, default_region=default_region)
    case = _case(
        row,
        found,
        person_id=person.id,
        schedules=schedules,
        default_schedule=default_schedule,
    )
    cells = {column: found.text(row, column) for column in MORATORIUM_COLUMNS}
    moratorium = read_moratorium(cells, found.bad)
    if found.errors or case is None:
        return found.errors
    return GoodRow(number, person, case, moratorium)
