"""The store API on SQLAlchemy Core, written once for every SQL dialect.

Each method opens one transaction (``_write`` or ``_read``) and hands its connection to the
module of its concern: ``intake`` (people, contact points, cases), ``planning`` (new
reminders), ``claims``, ``confirmation`` and ``recovery`` (the life of a claim), ``attempts``
(records and delivery reports), ``events`` (case events), ``opt_outs``, ``reports`` and
``idempotency``; ``migrations`` brings the schema up to date. Dialect differences live in a
``Dialect`` (how an insert ignores a duplicate key, how claim candidates and people are
locked, how schema changes are serialised) and in how a store begins a write transaction,
so a PostgreSQL or SQLite store supplies only those.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from dispatcher.model import Case, ContactKind, Outcome, Person, Wishes
from dispatcher.store import (
    activity,
    attempts,
    call_scripts,
    claims,
    confirmation,
    consents,
    events,
    idempotency,
    inbound,
    intake,
    migrations,
    opt_outs,
    planning,
    recovery,
    reports,
    unknowns,
)
from dispatcher.store import wishes as wishes_store
from dispatcher.store.api import (
    CaseHistory,
    CaseIn,
    Claim,
    ClaimBatch,
    DecideFn,
    IdempotencyRecord,
    ListedReminder,
    NewReminder,
    PersonIn,
    PlanCursor,
    PlanFn,
    PlannedPage,
    PlannedReminder,
    RecoveryReport,
    Replan,
    Retry,
    SendRecord,
    Settled,
    StatusReport,
    Store,
)
from dispatcher.store.arrangements_store import SqlArrangements
from dispatcher.store.console_api import ChannelRecent, HourCount, NodeClaims
from dispatcher.store.dialect import Dialect
from dispatcher.store.inbound import InboundEvent
from dispatcher.store.rows import cases_by_id, people_by_id
from dispatcher.store.scripts_api import CallScript
from dispatcher.store.unknown_api import ResendContext, Resolution, UnknownCursor, UnknownRow


class SqlStore(SqlArrangements, Store):
    """Store on a SQLAlchemy engine, for the database ``dialect`` describes."""

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self.engine = engine
        self.dialect = dialect

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- lifecycle --------------------------------------------------------------------------

    def migrate(self) -> int:
        with self._write() as conn:
            return migrations.migrate(conn, self.dialect)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(select(1)).scalar_one()

    # -- intake -----------------------------------------------------------------------------

    def upsert(
        self, people: Sequence[PersonIn], cases: Sequence[CaseIn], now: datetime
    ) -> list[str]:
        with self._write() as conn:
            return intake.upsert(conn, people, cases, now)

    def get_person(self, person_id: str) -> Person | None:
        with self._read() as conn:
            return people_by_id(conn, [person_id]).get(person_id)

    def get_case(self, case_id: str) -> Case | None:
        with self._read() as conn:
            return cases_by_id(conn, [case_id]).get(case_id)

    # -- planning ---------------------------------------------------------------------------

    def plan_cases(
        self, through: datetime, after: PlanCursor | None, limit: int, plan: PlanFn, now: datetime
    ) -> PlannedPage:
        with self._write() as conn:
            return planning.plan_cases(conn, self.dialect, through, after, limit, plan, now)

    def add_reminders(
        self,
        reminders: Iterable[NewReminder],
        planned: Iterable[tuple[str, datetime]],
        now: datetime,
    ) -> int:
        rows = planning.reminder_rows(reminders, now)
        marks = planning.planned_marks(planned)
        with self._write() as conn:
            return planning.add_reminders(conn, self.dialect, rows, marks)

    def planned_schedules(self) -> dict[str, Any] | None:
        with self._read() as conn:
            return planning.planned_schedules(conn)

    def keep_planned_schedules(self, fingerprints: dict[str, Any]) -> None:
        with self._write() as conn:
            planning.keep_planned_schedules(conn, self.dialect, fingerprints)

    def planned_steps(
        self, schedules: Collection[str], after: int | None, limit: int
    ) -> list[PlannedReminder]:
        with self._read() as conn:
            return planning.planned_steps(conn, schedules, after, limit)

    def replan(self, changes: Sequence[Replan], now: datetime) -> int:
        with self._write() as conn:
            return planning.replan(conn, changes, now)

    def schema_version(self) -> int | None:
        with self._read() as conn:
            return planning.schema_version(conn)

    def look_again(
        self, schedules: Collection[str], after: str | None, limit: int, now: datetime
    ) -> str | None:
        with self._write() as conn:
            return planning.look_again(conn, schedules, after, limit, now)

    def enqueue(self, reminder: NewReminder, now: datetime) -> int:
        with self._write() as conn:
            return planning.enqueue(conn, reminder, now)

    # -- dispatch ---------------------------------------------------------------------------

    def claim_due(
        self,
        now: datetime,
        limit: int,
        decide: DecideFn,
        lookback: timedelta,
        node: str = "",
        policy_version: str | None = None,
    ) -> ClaimBatch:
        with self._write() as conn:
            return claims.claim_due(
                conn, self.dialect, now, limit, decide, lookback, node, policy_version
            )

    def record(self, records: Sequence[SendRecord], node: str = "") -> None:
        if not records:
            return
        with self._write() as conn:
            attempts.record(conn, self.dialect, records, node)

    def release(self, claims: Sequence[Claim], now: datetime) -> int:
        if not claims:
            return 0
        with self._write() as conn:
            return confirmation.release(conn, claims, now)

    def start_sending(self, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        with self._write() as conn:
            return confirmation.start_sending(conn, claims, node, now)

    def renew_claims(self, node: str, now: datetime) -> int:
        with self._write() as conn:
            return recovery.renew_claims(conn, node, now)

    def release_lost_claims(self, node: str, held: Collection[str], now: datetime) -> int:
        with self._write() as conn:
            return recovery.release_lost_claims(conn, node, held, now)

    def recover(
        self, now: datetime, resend_channels: Iterable[str], node: str = ""
    ) -> RecoveryReport:
        resend = list(resend_channels)
        with self._write() as conn:
            return recovery.recover(conn, now, resend, node)

    def expire_claims(
        self, now: datetime, resend_channels: Iterable[str], lease: timedelta
    ) -> RecoveryReport:
        resend = list(resend_channels)
        with self._write() as conn:
            return recovery.expire_claims(conn, now, resend, lease)

    def next_due_at(self) -> datetime | None:
        with self._read() as conn:
            return claims.next_due_at(conn)

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
        if attempt_id is None and provider_id is None:
            return Settled(False)  # nothing to find: not worth the write lock
        with self._write() as conn:
            if event is not None and not inbound.first_sighting(conn, self.dialect, event, now):
                return Settled(False)
            return attempts.settle_attempt(
                conn,
                attempt_id=attempt_id,
                provider_id=provider_id,
                outcome=outcome,
                now=now,
                error_code=error_code,
                detail=detail,
                mark_contact=mark_contact,
                retry=retry,
            )

    # -- calls' scripts -----------------------------------------------------------------------

    def keep_call_script(self, attempt_id: str, script: CallScript, now: datetime) -> None:
        with self._write() as conn:
            call_scripts.keep(conn, attempt_id, script, now)

    def take_call_script(self, attempt_id: str, now: datetime) -> CallScript | None:
        with self._write() as conn:
            return call_scripts.take(conn, attempt_id, now)

    def forget_call_script(self, attempt_id: str) -> bool:
        with self._write() as conn:
            return call_scripts.forget(conn, attempt_id)

    # -- events -----------------------------------------------------------------------------

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
        state = events.state_after(kind, until, now)
        with self._write() as conn:
            return events.case_event(
                conn, case_id, kind, state, now=now, until=until, source=source, detail=detail
            )

    def opt_out(
        self,
        person_id: str,
        channel: str,
        contact: str | None,
        *,
        now: datetime,
        source: str,
        clear: bool = False,
    ) -> None:
        with self._write() as conn:
            opt_outs.opt_out(conn, person_id, channel, contact, now, source, clear)

    def consent(
        self,
        person_id: str,
        channel: str,
        contact: str | None,
        *,
        now: datetime,
        source: str,
        revoke: bool = False,
        detail: str | None = None,
    ) -> None:
        with self._write() as conn:
            consents.consent(conn, person_id, channel, contact, now, source, revoke, detail)

    def set_wishes(self, person_id: str, wishes: Wishes, *, now: datetime, source: str) -> bool:
        with self._write() as conn:
            return wishes_store.set_wishes(conn, person_id, wishes, now, source)

    def opt_out_contact(
        self,
        kind: ContactKind,
        value: str,
        channel: str,
        *,
        now: datetime,
        source: str,
        clear: bool = False,
        event: InboundEvent | None = None,
    ) -> list[str]:
        with self._write() as conn:
            if event is not None and not (
                inbound.first_sighting(conn, self.dialect, event, now)
                and inbound.in_order(conn, self.dialect, channel, value, event.at or now)
            ):
                return []
            return opt_outs.opt_out_contact(conn, kind, value, channel, now, source, clear)

    # -- reporting --------------------------------------------------------------------------

    def status(self, now: datetime) -> StatusReport:
        with self._read() as conn:
            return reports.status(conn, now)

    def case_of_reminder(self, reminder_id: int) -> str | None:
        with self._read() as conn:
            return reports.case_of_reminder(conn, reminder_id)

    def case_history(self, case_id: str) -> CaseHistory:
        with self._read() as conn:
            return reports.case_history(conn, case_id)

    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = reports.audit_rows(conn, since, until)
        return reports.in_audit_order(rows)

    def activity(self, since: datetime) -> list[HourCount]:
        with self._read() as conn:
            return activity.activity(conn, since)

    def channel_recent(self, since: datetime) -> list[ChannelRecent]:
        with self._read() as conn:
            return activity.channel_recent(conn, since)

    def node_claims(self) -> list[NodeClaims]:
        with self._read() as conn:
            return activity.node_claims(conn)

    # -- API --------------------------------------------------------------------------------

    def list_reminders(
        self, state: str | None, channel: str | None, after_id: int, limit: int
    ) -> list[ListedReminder]:
        with self._read() as conn:
            return reports.list_reminders(conn, state, channel, after_id, limit)

    def idempotency_begin(
        self,
        token: str,
        key: str,
        request: str,
        body_sha256: str,
        now: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        with self._write() as conn:
            return idempotency.begin(
                conn, self.dialect, token, key, request, body_sha256, now, expired_before
            )

    def idempotency_finish(self, token: str, key: str, status: int, response: str) -> None:
        with self._write() as conn:
            idempotency.finish(conn, token, key, status, response)

    def idempotency_abandon(self, token: str, key: str) -> None:
        with self._write() as conn:
            idempotency.abandon(conn, token, key)

    # -- unknown attempts -----------------------------------------------------------------

    def unknown_attempts(
        self,
        channel: str | None,
        since: datetime | None,
        after: UnknownCursor | None,
        limit: int,
    ) -> list[UnknownRow]:
        with self._read() as conn:
            return unknowns.unknown_attempts(conn, channel, since, after, limit)

    def unknown_counts(self) -> dict[str, int]:
        with self._read() as conn:
            return unknowns.unknown_counts(conn)

    def resend_contexts(self, attempt_ids: Sequence[str]) -> list[ResendContext]:
        with self._read() as conn:
            return unknowns.resend_contexts(conn, attempt_ids)

    def resolve_unknown(
        self,
        attempt_ids: Sequence[str] | None,
        resolution: Resolution,
        *,
        reason: str,
        source: str,
        now: datetime,
        channel: str | None = None,
        limit: int = 500,
    ) -> list[str]:
        with self._write() as conn:
            return unknowns.resolve_unknown(
                conn, attempt_ids, resolution, reason, source, now, channel, limit
            )
