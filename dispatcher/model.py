"""The domain: Person, Case, Reminder, Attempt, Decision; Arrangement, Instalment, Payment.

Plain frozen dataclasses: the store builds them, the policy reads them, nothing mutates them in
place. Every instant is an aware ``datetime`` in UTC; local time exists only inside the policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal


class ContactKind(enum.StrEnum):
    """What kind of address a channel needs."""

    PHONE = "phone"
    EMAIL = "email"
    POSTAL = "postal"


class PhoneLine(enum.StrEnum):
    """What kind of line a phone number is, as the lender knows it. A number of no known
    line (``ContactPoint.line`` None) is read by the policy under every rule that could bind
    it (209 CMR 18.16: a residence or mobile number, and any other number)."""

    MOBILE = "mobile"
    RESIDENCE = "residence"
    WORK = "work"
    OTHER = "other"


# The word a policy rule uses for a number of no known line (never stored: the store keeps None).
UNKNOWN_LINE = "unknown"


class CaseState(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    PLAN = "plan"
    HARDSHIP = "hardship"
    DISPUTED = "disputed"
    CEASED = "ceased"
    CLOSED = "closed"
    BANKRUPT = "bankrupt"
    DECEASED = "deceased"


class ReminderState(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Outcome(enum.StrEnum):
    """What became of one attempt. ``reserved``: claimed, not yet handed to the channel (it
    counts toward limits from the moment it is claimed, and a node that dies leaves it to be
    given back); ``sending``: confirmed for sending, so a node that dies leaves it ``unknown``;
    ``released``: a reservation given back before anything was sent."""

    RESERVED = "reserved"
    SENDING = "sending"
    PLACED = "placed"
    DELIVERED = "delivered"
    FAILED_TRANSIENT = "failed-transient"
    FAILED_PERMANENT = "failed-permanent"
    CONVERSATION = "conversation"
    UNKNOWN = "unknown"
    RELEASED = "released"


class Verdict(enum.StrEnum):
    SEND = "send"
    DEFER = "defer"
    SUPPRESS = "suppress"


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """One way to reach a person. ``status`` is ``ok``, ``invalid`` (the provider said the
    address cannot be reached) or ``opted_out``; ``line``: a phone number's kind of line
    (None: not known, or not a phone number)."""

    id: int
    kind: ContactKind
    value: str
    status: str = "ok"
    priority: int = 0
    line: PhoneLine | None = None


@dataclass(frozen=True, slots=True)
class OptOut:
    """A person's refusal of a channel; ``contact`` narrows it to one address (None = all)."""

    channel: str
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """The person's consent to ``channel`` on the contact point ``contact`` (None = every
    contact point the channel may use), for rules that require it (6 RCNY 5-77)."""

    channel: str
    contact: str | None = None


WISH_KINDS = ("not_before", "not_after", "not_between")


@dataclass(frozen=True, slots=True)
class HourWish:
    """The person's wish about when to be contacted: ``not_before`` ``at``, ``not_after``
    ``at``, or ``not_between`` ``at`` and ``until`` (local time; a span whose end is at or
    before its start runs past midnight), on ``days`` (Monday = 0), for ``channel`` (None =
    every channel)."""

    kind: str
    at: time
    until: time | None = None
    channel: str | None = None
    days: frozenset[int] = frozenset(range(7))

    def describe(self) -> str:
        """``no call before 10:00 on Mon–Fri`` for a reason text and explain."""
        what = f"no {self.channel}" if self.channel else "no contact"
        if self.kind == "not_between":
            assert self.until is not None
            when = f"between {self.at:%H:%M} and {self.until:%H:%M}"
        else:
            when = f"{self.kind.removeprefix('not_')} {self.at:%H:%M}"
        return f"{what} {when}{describe_days(self.days)}"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def describe_days(days: frozenset[int]) -> str:
    """`` on Mon–Fri``, `` on Sat, Sun``, or nothing for every day."""
    if len(days) == 7:
        return ""
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f" on {WEEKDAYS[ordered[0]].title()}–{WEEKDAYS[ordered[-1]].title()}"
    return " on " + ", ".join(WEEKDAYS[d].title() for d in ordered)


@dataclass(frozen=True, slots=True)
class Wishes:
    """What the person asked for: channels they refused, when not to contact them, the
    language to write to them in. They only ever narrow what the policy allows."""

    refused: tuple[str, ...] = ()
    hours: tuple[HourWish, ...] = ()
    language: str | None = None
    set_at: datetime | None = field(default=None, compare=False)
    source: str = field(default="", compare=False)

    def __bool__(self) -> bool:
        return bool(self.refused or self.hours or self.language)

    def describe(self) -> str:
        """``refused sms; no voice before 10:00; language zh-CN`` for explain and the CLI."""
        if not self:
            return "none"
        parts = [f"refused {', '.join(self.refused)}"] if self.refused else []
        parts += [wish.describe() for wish in self.hours]
        parts += [f"language {self.language}"] if self.language else []
        return "; ".join(parts)

    def origin(self) -> str:
        """`` (set 2026-12-02 09:30 UTC by cli)``, or nothing when never set."""
        return f" (set {self.set_at:%Y-%m-%d %H:%M} UTC by {self.source})" if self.set_at else ""


NO_WISHES = Wishes()


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    locale: str
    timezone: str | None
    contacts: tuple[ContactPoint, ...] = ()
    opt_outs: tuple[OptOut, ...] = ()
    consents: tuple[Consent, ...] = ()
    wishes: Wishes = NO_WISHES
    # When the stored person last changed (contacts, opt-outs included): a claim checks it is
    # unchanged before sending.
    revision: datetime | None = field(default=None, compare=False)

    @property
    def template_locale(self) -> str:
        """The locale to write to the person in: the language they asked for, else their own
        locale on file."""
        return self.wishes.language or self.locale


@dataclass(frozen=True, slots=True)
class BreathingSpace:
    """A UK debt respite moratorium (SI 2020/1311) on a case: no contact from ``start`` until
    ``until``. ``crisis``: a mental-health crisis moratorium, which lasts until 30 days after
    the crisis treatment ends (``until`` None while that end is not recorded)."""

    start: datetime
    until: datetime | None
    crisis: bool = False

    def runs_at(self, now: datetime) -> bool:
        """Whether the moratorium has not ended by ``now``."""
        return self.until is None or self.until > now


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    person_id: str
    amount: str
    currency: str
    due_date: date
    state: CaseState
    schedule: str
    paused_until: datetime | None = None
    revision: datetime | None = field(default=None, compare=False)  # as Person.revision
    breathing_space: BreathingSpace | None = None


@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    case_id: str
    person_id: str
    schedule: str
    step: str
    channel: str
    template: str
    due_at: datetime
    original_due_at: datetime
    state: ReminderState = ReminderState.PENDING
    tries: int = 0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to reach a person. ``counted`` says whether it counts toward rate limits
    (a request the provider refused before contacting anyone does not)."""

    id: str
    reminder_id: int | None
    person_id: str
    case_id: str
    channel: str
    contact: str
    at: datetime
    outcome: Outcome
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Reason:
    """A short machine code plus text a person can read; ``rule`` names the policy rule that
    produced it and where that rule came from (``preset us-reg-f: limits.call-frequency``)."""

    code: str
    text: str
    rule: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer for one reminder at one instant."""

    verdict: Verdict
    at: datetime
    until: datetime | None = None
    reasons: tuple[Reason, ...] = ()
    contact: ContactPoint | None = None
    flags: tuple[str, ...] = field(default=())
    # The zones the decision was judged in and why (``person``, ``phone``, ``address``,
    # ``fallback``): explain and audit show them.
    zones: tuple[str, ...] = ()
    zone_source: str = ""
    jurisdictions: tuple[str, ...] = ()  # those of policy.toml the person was judged under

    @property
    def cancels(self) -> bool:
        """A suppression because the debt is settled cancels rather than suppresses."""
        return self.verdict is Verdict.SUPPRESS and any(
            r.code in ("case_paid", "case_closed") for r in self.reasons
        )


class ArrangementState(enum.StrEnum):
    ACTIVE = "active"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Instalment:
    """One payment an arrangement expects: ``amount`` by ``due`` (a date in the person's
    time zone; ``deadline`` is the end of that day, UTC); ``paid`` is what payments have
    settled of it so far. Money is ``Decimal`` in the case's currency, never a float."""

    number: int
    due: date
    amount: Decimal
    paid: Decimal = Decimal(0)
    deadline: datetime | None = None

    @property
    def settled(self) -> bool:
        return self.paid >= self.amount

    @property
    def owed(self) -> Decimal:
        return max(self.amount - self.paid, Decimal(0))


@dataclass(frozen=True, slots=True)
class Arrangement:
    """A promise to pay (``kind = "promise"``: one instalment) or an instalment plan on a
    case. While ``active`` the case's ladder pauses; ``reason`` says why it ended."""

    id: int
    case_id: str
    kind: str
    state: ArrangementState
    instalments: tuple[Instalment, ...]
    created_at: datetime
    reason: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.instalments), Decimal(0))


@dataclass(frozen=True, slots=True)
class Payment:
    """Money received on a case: it reduces the balance and settles instalments, oldest
    first. ``reference`` is the payer's or the lender's: a payment given twice with the same
    reference is recorded once."""

    case_id: str
    amount: Decimal
    paid_on: date
    reference: str


def settle(
    instalments: tuple[Instalment, ...], amount: Decimal
) -> tuple[tuple[Instalment, ...], Decimal]:
    """``amount`` applied to ``instalments`` in due order: the instalments as they then stand
    and what is left over (an overpayment of the arrangement)."""
    left = amount
    out = []
    for instalment in sorted(instalments, key=lambda i: i.number):
        take = min(left, instalment.owed)
        left -= take
        out.append(replace(instalment, paid=instalment.paid + take))
    return tuple(out), left
