"""``ArrangementsApi`` on SQL: each call one transaction, handed to ``store.arrangements``
(``SqlStore`` inherits it)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection

from dispatcher.model import Arrangement, Instalment
from dispatcher.store import arrangements
from dispatcher.store.arrangements_api import (
    ArrangementRequest,
    ArrangementsApi,
    BrokenArrangement,
    InstalmentRemindersFn,
    PaymentResult,
    RefuseFn,
)


class SqlArrangements(ArrangementsApi):
    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Connection]: ...

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Connection]: ...

    def balance(self, case_id: str) -> Decimal:
        with self._read() as conn:
            return arrangements.balance(conn, case_id)

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
        with self._write() as conn:
            return arrangements.add(
                conn, case_id, kind, instalments, reminders, refuse, now, source
            )

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
        with self._write() as conn:
            return arrangements.pay(conn, case_id, amount, paid_on, reference, now, source)

    def cancel_arrangement(
        self, case_id: str, *, now: datetime, source: str, reason: str
    ) -> Arrangement:
        with self._write() as conn:
            return arrangements.cancel(conn, case_id, now, source, reason)

    def break_overdue_arrangements(
        self, unpaid_before: datetime, now: datetime, on_broken: str | None
    ) -> list[BrokenArrangement]:
        with self._write() as conn:
            return arrangements.break_overdue(conn, unpaid_before, now, on_broken)

    def arrangements_of(self, case_id: str) -> list[Arrangement]:
        with self._read() as conn:
            return arrangements.of_case(conn, case_id)

    def active_arrangements(self) -> list[Arrangement]:
        with self._read() as conn:
            return arrangements.active_all(conn)

    def request_arrangement(self, case_id: str, detail: str, *, now: datetime, source: str) -> None:
        with self._write() as conn:
            arrangements.request(conn, case_id, detail, now, source)

    def arrangement_requests(self, since: datetime) -> list[ArrangementRequest]:
        with self._read() as conn:
            return arrangements.requests(conn, since)

    def arrangement_counts(self) -> dict[str, int]:
        with self._read() as conn:
            return arrangements.counts(conn)
