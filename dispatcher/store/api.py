"""The store API every caller uses; SQLite and PostgreSQL implement it.

Callers never see SQL. Methods are synchronous (the daemon runs them on one worker thread) and
each is one transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dispatcher.model import (
    Arrangement,
    Attempt,
    BreathingSpace,
    Case,
    ContactKind,
    ContactPoint,
    Decision,
    Instalment,
    Outcome,
    Person,
    PhoneLine,
    Reminder,
    ReminderState,
    Wishes,
)
from dispatcher.store.arrangements_api import ArrangementsApi
from dispatcher.store.choices_api import ChoicesApi
from dispatcher.store.console_api import ConsoleReads
from dispatcher.store.inbound import InboundEvent
from dispatcher.store.planned import CasePlan, PlannedReminder, PlanningCase, Replan
from dispatcher.store.scripts_api import CallScripts
from dispatcher.store.settlement import Retry, Settled
from dispatcher.store.unknown_api import UnknownAttemptsApi

# decide(reminder, person, case, history) -> Decision, with `now` already bound.
DecideFn = Callable[[Reminder, Person, Case, Sequence[Attempt]], Decision]


@dataclass(frozen=True)
class PersonIn:
    """A person as imported: contact points are plain values, in priority order."""

    id: str
    name: str
    locale: str
    timezone: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    consents: tuple[tuple[str, str | None], ...] = ()  # (channel, contact or None = all)
    wishes: Wishes | None = None  # None: the row says nothing of the person's wishes
    # The line of each of ``phones``, by position (None, or no entry: not known).
    phone_lines: tuple[PhoneLine | None, ...] = ()

    def contact_values(self) -> list[tuple[ContactKind, str, int, PhoneLine | None]]:
        """Each contact point as (kind, value, priority, line): a phone's line, else None."""
        lines = self.phone_lines
        out = [
            (ContactKind.PHONE, value, priority, lines[priority] if priority < len(lines) else None)
            for priority, value in enumerate(self.phones)
        ]
        for kind, values in (
            (ContactKind.EMAIL, self.emails),
            (ContactKind.POSTAL, self.addresses),
        ):
            out.extend((kind, value, priority, None) for priority, value in enumerate(values))
        return out


@dataclass(frozen=True)
class CaseIn:
    id: str
    person_id: str
    amount: str
    currency: str
    due_date: date
    schedule: str
    state: str = "open"
    paused_until: datetime | None = None  # with state plan or hardship
    # A Breathing Space moratorium to record on the case, as its event would (None: nothing).
    breathing_space: BreathingSpace | None = None


@dataclass(frozen=True)
class NewReminder:
    case_id: str
    person_id: str
    schedule: str
    step: str
    channel: str
    template: str
    due_at: datetime
    state: ReminderState = ReminderState.PENDING
    last_reason: str | None = None


# plan(case) -> CasePlan, with the schedules and `now` already bound.
PlanFn = Callable[[PlanningCase], CasePlan]


@dataclass(frozen=True)
class PlanCursor:
    """Where a planning pass stands: the last case of its last page, in index order."""

    next_plan_at: datetime
    case_id: str


@dataclass(frozen=True)
class PlannedPage:
    """One page of a planning pass: the reminders it created, and where the next page starts
    (None: no case is left to plan)."""

    created: int
    cursor: PlanCursor | None


@dataclass(frozen=True)
class Claim:
    """A reminder the dispatcher may send now, with the attempt already reserved."""

    reminder: Reminder
    person: Person
    case: Case
    decision: Decision
    attempt_id: str
    contact: ContactPoint
    history: tuple[Attempt, ...] = ()
    # Of a reminder of an arrangement: its instalment, and how many the arrangement has.
    instalment: Instalment | None = None
    instalments: int = 0


@dataclass(frozen=True)
class ClaimBatch:
    claims: list[Claim]
    decided: list[tuple[Reminder, Decision]]  # every decision taken, sends included


@dataclass(frozen=True)
class SendRecord:
    """The result of sending one claim, to record in one go with others."""

    attempt_id: str
    reminder_id: int
    outcome: Outcome
    counted: bool
    finished_at: datetime
    reminder_state: ReminderState
    provider_id: str | None = None
    error_code: str | None = None
    detail: str | None = None
    reschedule_at: datetime | None = None  # with reminder_state pending
    spent_try: bool = True  # with reschedule_at: False gives the claim's try back
    channel: str = ""
    mark_contact: tuple[str, str, str, str] | None = None  # person, kind, value, status
    opt_out: tuple[str, str, str] | None = None  # person, channel, value


@dataclass(frozen=True)
class RecoveryReport:
    unknown: int  # confirmed for sending, outcome unknown
    requeued: int  # confirmed for sending, channel set to resend
    released: int = 0  # never confirmed for sending: back in the pool


@dataclass
class StatusReport:
    by_state_channel: list[tuple[str, str, int]]
    next_due: datetime | None
    due_now: int
    deferred_by_reason: list[tuple[str, int]]
    unknown_attempts: list[dict[str, Any]]
    failures: list[tuple[str, str, int]]  # channel, error code, count
    unknown_total: int = 0  # every unknown attempt (unknown_attempts lists the oldest 50)
    unknown_by_channel: dict[str, int] = field(default_factory=dict)  # every one, exactly


@dataclass
class CaseHistory:
    person: Person
    case: Case
    events: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    reminder_reasons: dict[int, str | None] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    arrangements: list[Arrangement] = field(default_factory=list)
    wishes: list[Wishes] = field(default_factory=list)  # every change, oldest first


@dataclass(frozen=True)
class ListedReminder:
    """A reminder as the API lists it: with the reason codes of its last deferral."""

    reminder: Reminder
    last_reason: str | None


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first request made with an idempotency key, and its answer (``status`` None while
    that request is still being answered)."""

    token: str
    key: str
    request: str
    body_sha256: str
    status: int | None
    response: str | None
    created_at: datetime


class UnknownCase(LookupError):
    pass


# How far an attempt's outcome has got: a callback moves it only to a higher rank, so
# duplicates and out-of-order callbacks (Twilio sends "sent" after "delivered" at times)
# are harmless. Evidence that the person was reached outranks a failure report.
SETTLE_RANK: dict[Outcome, int] = {
    Outcome.RESERVED: 0,
    Outcome.SENDING: 0,
    Outcome.UNKNOWN: 0,
    Outcome.PLACED: 0,
    Outcome.FAILED_TRANSIENT: 1,
    Outcome.FAILED_PERMANENT: 1,
    Outcome.DELIVERED: 2,
    Outcome.CONVERSATION: 3,
}


class Store(CallScripts, UnknownAttemptsApi, ConsoleReads, ArrangementsApi, ChoicesApi):
    """Persistent state: people, cases, reminders, attempts, decisions, events."""

    # Whether two threads of one process may write at once (each on its own connection)
    # without waiting on each other: not SQLite's single writer.
    concurrent_writers: bool = False

    # -- lifecycle --------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate(self) -> int:
        """Create or upgrade the schema; return the schema version now in place."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    def refresh_statistics(self) -> list[str]:
        """Bring the database's statistics up to date where its writes outran them (a big
        import, planning, the API's batches), so its planner does not plan claims for the
        empty tables it last saw; returns the tables refreshed. Waits on no writer. A store
        without statistics (SQLite plans by its indexes alone) has nothing to do."""
        return []

    # -- intake -----------------------------------------------------------------------------
    @abc.abstractmethod
    def upsert(
        self, people: Sequence[PersonIn], cases: Sequence[CaseIn], now: datetime
    ) -> list[str]:
        """Insert or update people (with their contact points) and cases, in one transaction.
        A case stored for another person than the one given is never moved or overwritten:
        the ids of such cases are returned and then nothing is written (leave them out and
        call again)."""

    @abc.abstractmethod
    def get_person(self, person_id: str) -> Person | None: ...

    @abc.abstractmethod
    def get_case(self, case_id: str) -> Case | None: ...

    # -- planning ---------------------------------------------------------------------------
    @abc.abstractmethod
    def plan_cases(
        self, through: datetime, after: PlanCursor | None, limit: int, plan: PlanFn, now: datetime
    ) -> PlannedPage:
        """Plan, in one transaction, up to ``limit`` cases whose next step not yet planned
        falls at or before ``through`` (after ``after``, in the order of their next step), and
        none more once they have ``limit`` new reminders: add what ``plan`` gives for each (as
        ``add_reminders``) and keep when each is next to be planned. A case with nothing left
        to plan (ladder finished, paid, closed) is not read."""

    @abc.abstractmethod
    def add_reminders(
        self,
        reminders: Iterable[NewReminder],
        planned: Iterable[tuple[str, datetime]],
        now: datetime,
    ) -> int:
        """Insert reminders, ignoring ones whose (case, schedule, step) exists, and record how
        far each case is planned (its next step is after that). Returns how many were new."""

    @abc.abstractmethod
    def planned_schedules(self) -> dict[str, Any] | None:
        """The fingerprint of each schedule as the cases were last planned with it (None:
        never recorded)."""

    @abc.abstractmethod
    def keep_planned_schedules(self, fingerprints: dict[str, Any]) -> None:
        """Record the fingerprint of each schedule the cases are now planned with."""

    @abc.abstractmethod
    def planned_steps(
        self, schedules: Collection[str], after: int | None, limit: int
    ) -> list[PlannedReminder]:
        """Up to ``limit`` reminders of collectable cases on ``schedules`` that are planned
        and not yet tried, after reminder id ``after``, in id order (one read)."""

    @abc.abstractmethod
    def replan(self, changes: Sequence[Replan], now: datetime) -> int:
        """Move or cancel planned reminders as ``changes`` say, each only while it is still
        pending and untried (one transaction); return how many changed."""

    @abc.abstractmethod
    def schema_version(self) -> int | None:
        """The schema version the store is at (None: not created yet)."""

    @abc.abstractmethod
    def look_again(
        self, schedules: Collection[str], after: str | None, limit: int, now: datetime
    ) -> str | None:
        """Have the next planning look again, from ``now`` on, at the collectable cases on
        ``schedules`` among the ``limit`` cases after id ``after`` (in id order, one
        transaction); return the last id seen (None: no case is left)."""

    # -- dispatch ---------------------------------------------------------------------------
    @abc.abstractmethod
    def claim_due(
        self,
        now: datetime,
        limit: int,
        decide: DecideFn,
        lookback: timedelta,
        node: str = "",
        policy_version: str | None = None,
    ) -> ClaimBatch:
        """Take up to ``limit`` due reminders (oldest first, one per person, none for a person
        with a contact in flight), decide each, and in the same transaction: reserve an
        attempt for each send (claimed by ``node``), move each deferral, close each
        suppression. Every decision records the ``policy_version`` it was taken under. Sends
        are reserved, not yet confirmed: ``start_sending`` confirms each just before it goes
        to its channel."""

    @abc.abstractmethod
    def record(self, records: Sequence[SendRecord], node: str = "") -> None:
        """Record the outcomes of ``node``'s sends, in one transaction, each a compare-and-set
        on its attempt's outcome (``attempts.record_outcomes``). A reminder whose claim
        ``node`` no longer holds for this attempt (expired, claimed again) keeps its state."""

    @abc.abstractmethod
    def release(self, claims: Sequence[Claim], now: datetime) -> int:
        """Give back claims that were never handed to a channel; returns how many went back.
        A claim settled meanwhile (recorded, reported, recovered by another node) is left as
        it is and not counted."""

    @abc.abstractmethod
    def start_sending(self, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        """Confirm ``claims`` for sending, just before they go to their channel; return the
        attempt ids confirmed. A claim whose case or person changed since it was taken (an
        event, an opt-out, an upsert) is given back to the pool instead, so the next claim
        decides it again; one no longer held by ``node`` is left alone. Confirming a claim
        again (not yet sent, but confirmed before) checks it again the same way."""

    @abc.abstractmethod
    def renew_claims(self, node: str, now: datetime) -> int:
        """``node`` is alive: its claims are not expired by other nodes' ``expire_claims``."""

    @abc.abstractmethod
    def release_lost_claims(self, node: str, held: Collection[str], now: datetime) -> int:
        """Give back ``node``'s reservations that its dispatch loop does not hold (``held``:
        the attempt ids of the claims it does hold, not yet handed to a channel); returns how
        many went back. Such a reservation is a claim whose transaction committed while its
        answer was lost (the connection broke after the commit was sent): the loop never saw
        it, and the node's renewals would keep it from expiring. Only a ``reserved`` attempt
        goes back (a compare-and-set): nothing of it was sent. The loop calls this between
        its claims, so no claim of its own is under way."""

    @abc.abstractmethod
    def recover(
        self, now: datetime, resend_channels: Iterable[str], node: str = ""
    ) -> RecoveryReport:
        """After a crash or at stop, ``node``'s claims: those never confirmed for sending go
        back to the pool; those confirmed become ``unknown`` (or pending again on channels
        configured ``on_unknown = "resend"``)."""

    @abc.abstractmethod
    def expire_claims(
        self, now: datetime, resend_channels: Iterable[str], lease: timedelta
    ) -> RecoveryReport:
        """Any node's claims not renewed for ``lease``: that node is gone; settle them as
        ``recover`` does."""

    @abc.abstractmethod
    def next_due_at(self) -> datetime | None: ...

    @abc.abstractmethod
    def settle_attempt(
        self,
        *,
        attempt_id: str | None,
        provider_id: str | None,
        outcome: Outcome,
        now: datetime,
        error_code: str | None = None,
        detail: str | None = None,
        mark_contact: str | None = None,
        retry: Retry | None = None,
        event: InboundEvent | None = None,
    ) -> Settled:
        """Apply a provider's delivery callback to one attempt, found by ``attempt_id`` (its
        ``provider_id`` is then recorded if it had none) or else by ``provider_id``. Outcomes
        only move forward (``SETTLE_RANK``): a duplicate or late callback changes nothing, an
        ``unknown`` attempt takes the callback's outcome. The reminder follows (delivered,
        failed) while it is sent or unknown. With ``retry``, a ``failed-transient`` outcome
        sends such a reminder back to pending (due after the backoff; the next claim decides
        it again) or, at ``retry.max_tries``, fails it with reason ``gave_up:<code>``.
        ``mark_contact`` (``invalid`` or ``opted_out``) marks the attempt's address as a send
        failure would, and changes the person's revision. Returns what it did (true when
        anything changed); a callback naming no attempt changes nothing. With ``event``, the
        callback's id: one seen before changes nothing (``store/inbound.py``)."""

    # -- events -----------------------------------------------------------------------------
    @abc.abstractmethod
    def case_event(
        self,
        case_id: str,
        kind: str,
        *,
        now: datetime,
        until: datetime | None = None,
        source: str = "cli",
        detail: str | None = None,
    ) -> Case:
        """Apply paid, plan, hardship, dispute, resolve, cease, resume, close, bankrupt,
        deceased to a case, or start (``breathing-space``, ``breathing-space-crisis``: ``until``
        its end, None for a crisis whose end is not known) or end (``breathing-space-end``) a
        Breathing Space moratorium on it."""

    @abc.abstractmethod
    def enqueue(self, reminder: NewReminder, now: datetime) -> int:
        """Add one ad-hoc reminder; return its id."""

    # -- reporting --------------------------------------------------------------------------
    @abc.abstractmethod
    def status(self, now: datetime) -> StatusReport: ...

    @abc.abstractmethod
    def case_history(self, case_id: str) -> CaseHistory: ...

    @abc.abstractmethod
    def case_of_reminder(self, reminder_id: int) -> str | None: ...

    @abc.abstractmethod
    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Every decision and attempt with ``since <= at < until``, oldest first, each with
        its reminder's channel and template (read only; nothing is ever deleted)."""

    # -- API --------------------------------------------------------------------------------
    @abc.abstractmethod
    def list_reminders(
        self, state: str | None, channel: str | None, after_id: int, limit: int
    ) -> list[ListedReminder]:
        """Up to ``limit`` reminders with id greater than ``after_id``, in id order, optionally
        only in ``state`` and on ``channel`` (keyset pagination: stable while rows are added)."""

    @abc.abstractmethod
    def idempotency_begin(
        self,
        token: str,
        key: str,
        request: str,
        body_sha256: str,
        now: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        """Reserve ``key`` for ``token``'s request and return None, or return the record
        already holding it. A record created before ``expired_before`` is forgotten and the
        key reserved anew."""

    @abc.abstractmethod
    def idempotency_finish(self, token: str, key: str, status: int, response: str) -> None:
        """Keep the answer given to the request that reserved ``key``."""

    @abc.abstractmethod
    def idempotency_abandon(self, token: str, key: str) -> None:
        """Free a reserved ``key`` whose request failed without an answer worth repeating."""
