"""The API's request and response bodies as pydantic models: requests reject unknown
fields, and the OpenAPI document's schemas are generated from these same models, so the
document and the code cannot disagree."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from dispatcher.config.dispatcher_file import CHANNEL_NAME_PATTERN
from dispatcher.intake.rows import ID_PATTERN as ID_PATTERN  # the one id rule, intake's
from dispatcher.model import CaseState, ReminderState

LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ----------------------------------------------------------------------------------


LineName = Literal["mobile", "residence", "work", "other"]


class PhoneBody(_Request):
    """A phone number with its line, when the lender knows it (209 CMR 18.16 counts calls to
    a residence or mobile number apart from calls to other numbers)."""

    number: str = Field(max_length=40, description="E.164, e.g. +16175550123")
    line: LineName | None = Field(None, description="omitted or null: not known")


class PersonBody(_Request):
    """A person to create or replace. Contact points are in priority order; phone numbers in
    E.164 (``+14155550123``), each alone or with its line (``{"number": "+16175550123",
    "line": "work"}``, or the text ``work:+16175550123`` as an import writes it)."""

    name: str = Field(min_length=1, max_length=200)
    locale: str | None = Field(
        None, pattern=LOCALE_PATTERN, description="default: the configured fallback locale"
    )
    timezone: str | None = Field(None, max_length=64, description="IANA zone, e.g. Asia/Shanghai")
    phones: list[Annotated[str, Field(max_length=50)] | PhoneBody] = Field([], max_length=10)
    emails: list[Annotated[str, Field(max_length=254)]] = Field([], max_length=10)
    addresses: list[Annotated[str, Field(max_length=500)]] = Field([], max_length=5)


class CaseBody(_Request):
    """A case (one debt) to create or update. Its state changes only through events."""

    person_id: str = Field(pattern=ID_PATTERN)
    amount: str = Field(pattern=AMOUNT_PATTERN, description="a positive decimal, e.g. 120.50")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. USD")
    due_date: date
    schedule: str = Field(min_length=1, max_length=64, description="a schedule in schedules.toml")


class BatchBody(_Request):
    """Rows as ``dispatcher import`` reads them (flat keys: person_id, name, locale, timezone,
    phone, email, address, case_id, amount, currency, due_date, schedule, state, consent, and
    the person's wishes refuse, contact_hours, language, and a Breathing Space on the case
    breathing_space, breathing_space_start, breathing_space_until,
    breathing_space_crisis_ends; several phones, emails, consents, refused channels or contact
    hours as a list; a phone's line before it, as in ``work:+16175550123``). Each row is
    validated alone; good rows are kept."""

    rows: list[dict[str, Any]] = Field(min_length=1)


class _EventBase(_Request):
    note: str | None = Field(None, max_length=1000, description="kept with the event")


class SimpleEvent(_EventBase):
    """An event that needs nothing more: ``paid`` and ``close`` end the case (pending reminders
    are cancelled); ``dispute``, ``cease`` pause it; ``resolve`` and ``resume`` open it again;
    ``bankrupt`` and ``deceased`` suppress every reminder but the templates whose
    ``allowed_states`` name the state; ``breathing-space-end`` ends a Breathing Space
    moratorium early (the ladder resumes where it stood)."""

    kind: Literal[
        "paid",
        "close",
        "dispute",
        "resolve",
        "cease",
        "resume",
        "bankrupt",
        "deceased",
        "breathing-space-end",
    ]


class PauseEvent(_EventBase):
    """A payment plan or hardship: no contact until ``until`` (a date means midnight in the
    person's time zone; a date-time without offset is in the person's time zone too)."""

    kind: Literal["plan", "hardship"]
    until: date | datetime


class BreathingSpaceEvent(_EventBase):
    """A UK Breathing Space moratorium (SI 2020/1311) starts: no contact on the case until it
    ends. Standard: ``until`` (default 60 days from now). With ``mental_health_crisis``: until
    30 days after ``crisis_ends`` (the day the crisis treatment ends), with no end while that
    is not known; send the event again with ``crisis_ends`` to record it. Dates as for
    ``plan``."""

    kind: Literal["breathing-space"]
    until: date | datetime | None = None
    mental_health_crisis: bool = False
    crisis_ends: date | datetime | None = None


class OptOutEvent(_EventBase):
    """The person refuses (``opt-out``) or accepts again (``opt-in``) contact on ``channel``
    (default every channel), for one ``contact`` address or all of them."""

    kind: Literal["opt-out", "opt-in"]
    channel: str = Field("*", min_length=1, max_length=64)
    contact: str | None = Field(None, min_length=1, max_length=254)


class ConsentEvent(_EventBase):
    """The person consents (``consent``) to contact on ``channel``, for one ``contact``
    address or all of them, or withdraws it (``consent-revoked``); ``note`` says what it rests
    on (a signed form, a recorded call). Rules that require consent read it (6 RCNY 5-77)."""

    kind: Literal["consent", "consent-revoked"]
    channel: str = Field(min_length=1, max_length=64)
    contact: str | None = Field(None, min_length=1, max_length=254)


Event = Annotated[
    SimpleEvent | PauseEvent | BreathingSpaceEvent | OptOutEvent | ConsentEvent,
    Field(discriminator="kind"),
]


class EventBody(RootModel[Event]):
    """One event that happened to a case or its person; ``kind`` says which."""


class ReminderQuery(_Request):
    """Filters and page of ``GET /v1/reminders``."""

    state: ReminderState | None = None
    channel: str | None = Field(None, pattern=CHANNEL_NAME_PATTERN)
    after: int = Field(0, ge=0, le=2**62, description="the next_after of the previous page")
    limit: int = Field(100, ge=1, le=1000)


class ResolveBody(_Request):
    """An operator's resolution of attempts whose outcome is unknown: name exactly one of
    ``attempt_ids``, ``channel`` and ``all``."""

    resolution: Literal["sent", "not_sent", "resend"] = Field(
        description="sent: it reached the provider (the step is done); not_sent: it never "
        "left (decided again, no try spent); resend: send it again, accepting a duplicate"
    )
    attempt_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        None, min_length=1, max_length=10_000
    )
    channel: str | None = Field(None, pattern=CHANNEL_NAME_PATTERN)
    all: bool = False
    reason: str = Field(min_length=1, max_length=500, description="recorded for audit")


# -- responses ---------------------------------------------------------------------------------


class ContactView(_Response):
    kind: Literal["phone", "email", "postal"]
    value: str = Field(description="masked unless the token has scope read:pii")
    status: str
    priority: int
    line: LineName | None = Field(None, description="a phone number's line; null: not known")


class OptOutView(_Response):
    channel: str
    contact: str | None


class PersonView(_Response):
    id: str
    name: str = Field(description="initials unless the token has scope read:pii")
    locale: str
    timezone: str | None
    contacts: list[ContactView]
    opt_outs: list[OptOutView]
    masked: bool


class BreathingSpaceView(_Response):
    start: datetime
    until: datetime | None = Field(description="None: a crisis moratorium, its end not known")
    crisis: bool = Field(description="a mental-health crisis moratorium")


class CaseView(_Response):
    id: str
    person_id: str
    amount: str
    currency: str
    due_date: date
    state: CaseState
    schedule: str
    paused_until: datetime | None
    breathing_space: BreathingSpaceView | None = Field(
        None, description="a Breathing Space moratorium on the case (SI 2020/1311), if any"
    )


class ReminderView(_Response):
    id: int
    case_id: str
    person_id: str
    schedule: str
    step: str
    channel: str
    template: str
    due_at: datetime
    original_due_at: datetime
    state: ReminderState
    tries: int
    last_reason: str | None


class HistoryEntry(_Response):
    at: datetime
    reminder_id: int | None
    what: str = Field(description="event …, decision …, attempt …")
    detail: str


class InstalmentView(_Response):
    number: int
    due: date
    amount: str
    paid: str
    settled: bool


class ArrangementView(_Response):
    id: int
    kind: str
    state: str
    created_at: datetime
    reason: str | None
    instalments: list[InstalmentView]


class CaseDetail(_Response):
    """A case with its person, its reminders (those still to come first) and its whole
    decision history, as ``dispatcher explain`` shows it."""

    case: CaseView
    person: PersonView
    time_zone: str = Field(description="the zones the policy judges this person in, and why")
    upcoming: list[ReminderView]
    reminders: list[ReminderView]
    arrangements: list[ArrangementView] = Field(description="oldest first")
    history: list[HistoryEntry]


class PersonResult(_Response):
    person: PersonView
    created: bool


class CaseResult(_Response):
    case: CaseView
    created: bool


class EventResult(_Response):
    case: CaseView
    event: str


class FieldErrorView(_Response):
    field: str
    message: str


class RowResult(_Response):
    index: int = Field(description="position of the row in rows, from 0")
    case_id: str | None
    accepted: bool
    errors: list[FieldErrorView]


class BatchResult(_Response):
    accepted: int
    rejected: int
    rows: list[RowResult]


class ReminderPage(_Response):
    items: list[ReminderView]
    next_after: int | None = Field(description="pass as after= for the next page; null at the end")


class ResolveResult(_Response):
    resolution: str
    resolved: int = Field(description="attempts resolved by this request")
    not_unknown: list[str] = Field(
        description="attempt_ids given that were not unknown (already resolved, or none such)"
    )


class Problem(_Response):
    """An error (RFC 9457 problem details)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorView] | None = None
