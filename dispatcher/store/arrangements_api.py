"""The store API's part for arrangements and payments (``Store`` inherits it): an
arrangement made on a case with its instalments' reminders, payments that settle them and
reduce the balance, and the arrangements broken once an instalment is unpaid past its grace
(``store.arrangements`` implements it in SQL)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from dispatcher.model import Arrangement, Case, Instalment

if TYPE_CHECKING:  # store.api imports this module
    from dispatcher.store.api import NewReminder

# Why no arrangement may be made on a case as it now stands (None: it may); read in the
# transaction that makes it, so a dispute recorded meanwhile still refuses it.
RefuseFn = Callable[[Case, Decimal], "str | None"]
# The reminders of a new arrangement, once its id is known.
InstalmentRemindersFn = Callable[[int], "Sequence[NewReminder]"]


class ArrangementRefused(Exception):
    """The case's state or its active arrangement refuses a new one: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PaymentResult:
    """What a payment did: the balance after it, the instalments it settled, what it paid
    beyond the active arrangement (``overpaid``), the arrangement as it then stands, and
    whether it had been recorded before (its reference seen: nothing changed)."""

    balance: Decimal
    settled: tuple[int, ...] = ()
    overpaid: Decimal = Decimal(0)
    arrangement: Arrangement | None = None
    duplicate: bool = False
    case_paid: bool = False


@dataclass(frozen=True)
class ArrangementRequest:
    """Terms a person proposed that could not be accepted at once (beyond the bounds, or
    after too many broken arrangements), kept for the team to answer."""

    case_id: str
    at: datetime
    source: str
    detail: str


# The case event that records such a request (``explain`` shows it in the case's history).
REQUEST_EVENT = "arrangement_request"


@dataclass(frozen=True)
class BrokenArrangement:
    case_id: str
    arrangement_id: int
    reason: str


class ArrangementsApi(abc.ABC):
    """Arrangements and payments by case."""

    @abc.abstractmethod
    def balance(self, case_id: str) -> Decimal:
        """The case's amount less every payment recorded on it."""

    @abc.abstractmethod
    def add_arrangement(
        self,
        case_id: str,
        kind: str,
        instalments: Sequence[Instalment],
        reminders: InstalmentRemindersFn,
        refuse: RefuseFn,
        *,
        now: datetime,
        source: str,
    ) -> Arrangement:
        """Make an arrangement on the case: its instalments and their reminders, the case put
        on ``plan`` with no end date (its ladder waits), the change recorded among its events.
        ``ArrangementRefused`` when ``refuse`` gives a reason or an arrangement is active."""

    @abc.abstractmethod
    def record_payment(
        self,
        case_id: str,
        amount: Decimal,
        paid_on: date,
        reference: str,
        *,
        now: datetime,
        source: str,
    ) -> PaymentResult:
        """Record a payment: it settles the active arrangement's instalments oldest first
        (their remaining reminders cancelled; all settled: the arrangement is kept and the
        ladder resumes), and a balance reaching 0 makes the case paid."""

    @abc.abstractmethod
    def cancel_arrangement(
        self, case_id: str, *, now: datetime, source: str, reason: str
    ) -> Arrangement:
        """End the case's active arrangement as ``cancelled``: its reminders cancelled, the
        ladder resumes. ``ArrangementRefused`` when none is active."""

    @abc.abstractmethod
    def break_overdue_arrangements(
        self, unpaid_before: datetime, now: datetime, on_broken: str | None
    ) -> list[BrokenArrangement]:
        """Break every active arrangement with an instalment unpaid whose deadline is at or
        before ``unpaid_before`` (now less the grace): its reminders cancelled, its case's
        ladder resumed where it stood — or, with ``on_broken``, the case moved to that
        schedule counted from today — and the reason recorded."""

    @abc.abstractmethod
    def arrangements_of(self, case_id: str) -> list[Arrangement]:
        """The case's arrangements, oldest first."""

    @abc.abstractmethod
    def active_arrangements(self) -> list[Arrangement]:
        """Every active arrangement, in id order (``simulate`` plays them forward)."""

    @abc.abstractmethod
    def request_arrangement(self, case_id: str, detail: str, *, now: datetime, source: str) -> None:
        """Record terms proposed for the team to answer (nothing about the case changes);
        ``UnknownCase`` when there is no such case."""

    @abc.abstractmethod
    def arrangement_requests(self, since: datetime) -> list[ArrangementRequest]:
        """The requests recorded at or after ``since``, oldest first."""

    @abc.abstractmethod
    def arrangement_counts(self) -> dict[str, int]:
        """Arrangements by state."""
