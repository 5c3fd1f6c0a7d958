"""The store API on SQLAlchemy Core, written once for every SQL dialect.

Dialect differences live in small overridable methods (how a write transaction begins, how an
insert ignores a duplicate key, how claim candidates are locked), so a PostgreSQL store only
overrides those.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.sql import Select

from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    Decision,
    OptOut,
    Outcome,
    Person,
    Reminder,
    ReminderState,
    Verdict,
)
from dispatcher.store import schema as t
from dispatcher.store.api import (
    SETTLE_RANK,
    CaseHistory,
    CaseIn,
    Claim,
    ClaimBatch,
    DecideFn,
    IdempotencyRecord,
    ListedReminder,
    NewReminder,
    PersonIn,
    PlanningCase,
    RecoveryReport,
    Retry,
    SendRecord,
    Settled,
    StatusReport,
    Store,
    UnknownCase,
)

CHUNK = 500  # ids per IN (...) list; far below every dialect's bound-parameter limit
SCAN_FACTOR = 4  # candidate rows read per claimed reminder, for people with several due

CASE_EVENTS: dict[str, CaseState | None] = {
    "paid": CaseState.PAID,
    "close": CaseState.CLOSED,
    "plan": CaseState.PLAN,
    "hardship": CaseState.HARDSHIP,
    "dispute": CaseState.DISPUTED,
    "resolve": CaseState.OPEN,
    "cease": CaseState.CEASED,
    "resume": CaseState.OPEN,
}
# Events that end a pause bring the case's waiting reminders forward to be decided again.
_BRING_FORWARD = {"resolve", "resume"}


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reasons_json(decision: Decision) -> str:
    # [code, text], or [code, text, rule] when the reason names the rule that produced it.
    return json.dumps(
        [[r.code, r.text, r.rule] if r.rule else [r.code, r.text] for r in decision.reasons],
        ensure_ascii=False,
    )


def _reason_codes(decision: Decision) -> str | None:
    return ",".join(r.code for r in decision.reasons) or None


def _add_column(conn: Connection, table: Any, name: str) -> None:
    column = table.c[name]
    kind = column.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")


def _v1_to_v2(conn: Connection) -> None:
    _add_column(conn, t.reminders, "claimed_by")
    _add_column(conn, t.reminders, "claimed_at")


def _v2_to_v3(conn: Connection) -> None:
    _add_column(conn, t.decisions, "policy_version")


def _v3_to_v4(conn: Connection) -> None:
    # migrate() has already created missing tables; this keeps the step explicit and safe
    # when run on its own.
    t.idempotency_keys.create(conn, checkfirst=True)
    # Before version 4 a claim was not confirmed before sending: an attempt an older daemon
    # left reserved may have been sent, so recovery must treat it as confirmed (unknown).
    conn.execute(
        update(t.attempts)
        .where(t.attempts.c.outcome == Outcome.RESERVED.value)
        .values(outcome=Outcome.SENDING.value)
    )


# UPGRADES[n] takes a store from schema version n to n+1, inside the migrate transaction.
UPGRADES = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def new_attempt_id() -> str:
    return uuid.uuid4().hex


class SqlStore(Store):
    """Store on a SQLAlchemy engine. Subclasses adapt it to one dialect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- dialect hooks ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def _insert_ignore(self, table: Any) -> Any:
        raise NotImplementedError

    def _take_people(self, conn: Connection, due: list[Reminder], now: datetime) -> list[Reminder]:
        """Make the claim of ``due`` exclusive per person. On SQLite the write transaction
        already excludes every other writer; a shared store locks the people here."""
        return due

    def _migration_lock(self, conn: Connection) -> None:
        """Serialise schema changes between processes that start together."""

    # -- lifecycle --------------------------------------------------------------------------

    def migrate(self) -> int:
        with self._write() as conn:
            self._migration_lock(conn)
            t.metadata.create_all(conn)
            version = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "schema_version")
            ).scalar()
            if version is None:
                conn.execute(
                    insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION))
                )
                return t.SCHEMA_VERSION
            if int(version) > t.SCHEMA_VERSION:
                raise RuntimeError(
                    f"the store has schema version {version}, newer than this program's "
                    f"{t.SCHEMA_VERSION}; upgrade the program"
                )
            current = int(version)
            for step in range(current, t.SCHEMA_VERSION):
                UPGRADES[step](conn)
            if current != t.SCHEMA_VERSION:
                conn.execute(
                    update(t.meta)
                    .where(t.meta.c.key == "schema_version")
                    .values(value=str(t.SCHEMA_VERSION))
                )
            return t.SCHEMA_VERSION

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(select(1)).scalar_one()

    # -- reading domain objects --------------------------------------------------------------

    @staticmethod
    def _case(row: Any) -> Case:
        return Case(
            id=row.id,
            person_id=row.person_id,
            amount=row.amount,
            currency=row.currency,
            due_date=row.due_date,
            state=CaseState(row.state),
            schedule=row.schedule,
            paused_until=row.paused_until,
            revision=row.updated_at,
        )

    @staticmethod
    def _reminder(row: Any) -> Reminder:
        return Reminder(
            id=row.id,
            case_id=row.case_id,
            person_id=row.person_id,
            schedule=row.schedule,
            step=row.step,
            channel=row.channel,
            template=row.template,
            due_at=row.due_at,
            original_due_at=row.original_due_at,
            state=ReminderState(row.state),
            tries=row.tries,
        )

    def _people(self, conn: Connection, ids: Sequence[str]) -> dict[str, Person]:
        base: dict[str, Any] = {}
        contacts: dict[str, list[ContactPoint]] = defaultdict(list)
        outs: dict[str, list[OptOut]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            for row in conn.execute(select(t.people).where(t.people.c.id.in_(chunk))):
                base[row.id] = row
            for row in conn.execute(
                select(t.contact_points).where(t.contact_points.c.person_id.in_(chunk))
            ):
                contacts[row.person_id].append(
                    ContactPoint(row.id, ContactKind(row.kind), row.value, row.status, row.priority)
                )
            for row in conn.execute(
                select(t.opt_outs.c.person_id, t.opt_outs.c.channel, t.opt_outs.c.contact).where(
                    t.opt_outs.c.person_id.in_(chunk), t.opt_outs.c.cleared_at.is_(None)
                )
            ):
                outs[row.person_id].append(OptOut(row.channel, row.contact))
        return {
            pid: Person(
                id=row.id,
                name=row.name,
                locale=row.locale,
                timezone=row.timezone,
                contacts=tuple(contacts[pid]),
                opt_outs=tuple(outs[pid]),
                revision=row.updated_at,
            )
            for pid, row in base.items()
        }

    def _cases(self, conn: Connection, ids: Sequence[str]) -> dict[str, Case]:
        out: dict[str, Case] = {}
        for chunk in _chunks(list(ids)):
            for row in conn.execute(select(t.cases).where(t.cases.c.id.in_(chunk))):
                out[row.id] = self._case(row)
        return out

    def _history(
        self, conn: Connection, person_ids: Sequence[str], since: datetime
    ) -> dict[str, list[Attempt]]:
        out: dict[str, list[Attempt]] = defaultdict(list)
        a = t.attempts.c
        for chunk in _chunks(list(person_ids)):
            rows = conn.execute(
                select(
                    a.id,
                    a.reminder_id,
                    a.person_id,
                    a.case_id,
                    a.channel,
                    a.contact,
                    a.at,
                    a.outcome,
                    a.counted,
                ).where(a.person_id.in_(chunk), a.at > since, a.outcome != Outcome.RELEASED.value)
            )
            for row in rows:
                out[row.person_id].append(
                    Attempt(
                        row.id,
                        row.reminder_id,
                        row.person_id,
                        row.case_id,
                        row.channel,
                        row.contact,
                        row.at,
                        Outcome(row.outcome),
                        bool(row.counted),
                    )
                )
        return out

    def get_person(self, person_id: str) -> Person | None:
        with self._read() as conn:
            return self._people(conn, [person_id]).get(person_id)

    def get_case(self, case_id: str) -> Case | None:
        with self._read() as conn:
            return self._cases(conn, [case_id]).get(case_id)

    # -- intake -----------------------------------------------------------------------------

    def upsert(self, people: Sequence[PersonIn], cases: Sequence[CaseIn], now: datetime) -> None:
        with self._write() as conn:
            self._upsert_people(conn, people, now)
            self._upsert_cases(conn, cases, now)

    def _upsert_people(self, conn: Connection, people: Sequence[PersonIn], now: datetime) -> None:
        if not people:
            return
        ids = [p.id for p in people]
        existing: set[str] = set()
        for chunk in _chunks(ids):
            existing.update(
                conn.execute(select(t.people.c.id).where(t.people.c.id.in_(chunk))).scalars()
            )
        fresh = [p for p in people if p.id not in existing]
        known = [p for p in people if p.id in existing]
        if fresh:
            conn.execute(
                insert(t.people),
                [
                    {
                        "id": p.id,
                        "name": p.name,
                        "locale": p.locale,
                        "timezone": p.timezone,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p in fresh
                ],
            )
        if known:
            conn.execute(
                update(t.people)
                .where(t.people.c.id == bindparam("pid"))
                .values(
                    name=bindparam("name"),
                    locale=bindparam("locale"),
                    timezone=bindparam("timezone"),
                    updated_at=now,
                ),
                [
                    {"pid": p.id, "name": p.name, "locale": p.locale, "timezone": p.timezone}
                    for p in known
                ],
            )
        # Contact points: add new ones, keep status of existing ones (an opt-out or a dead
        # number must survive a re-import), update priority.
        rows = [
            {
                "person_id": p.id,
                "kind": kind.value,
                "value": value,
                "priority": prio,
                "status": "ok",
                "updated_at": now,
            }
            for p in people
            for kind, value, prio in p.contact_values()
        ]
        if rows:
            conn.execute(self._insert_ignore(t.contact_points), rows)
            conn.execute(
                update(t.contact_points)
                .where(
                    t.contact_points.c.person_id == bindparam("pid"),
                    t.contact_points.c.kind == bindparam("k"),
                    t.contact_points.c.value == bindparam("v"),
                )
                .values(priority=bindparam("p")),
                [
                    {"pid": r["person_id"], "k": r["kind"], "v": r["value"], "p": r["priority"]}
                    for r in rows
                ],
            )

    def _upsert_cases(self, conn: Connection, cases: Sequence[CaseIn], now: datetime) -> None:
        if not cases:
            return
        existing: set[str] = set()
        for chunk in _chunks([c.id for c in cases]):
            existing.update(
                conn.execute(select(t.cases.c.id).where(t.cases.c.id.in_(chunk))).scalars()
            )
        fresh = [c for c in cases if c.id not in existing]
        known = [c for c in cases if c.id in existing]
        if fresh:
            conn.execute(
                insert(t.cases),
                [
                    {
                        "id": c.id,
                        "person_id": c.person_id,
                        "amount": c.amount,
                        "currency": c.currency,
                        "due_date": c.due_date,
                        "state": c.state,
                        "paused_until": c.paused_until,
                        "schedule": c.schedule,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in fresh
                ],
            )
        if known:
            # A re-import updates the debt's facts; its state changes only through events.
            conn.execute(
                update(t.cases)
                .where(t.cases.c.id == bindparam("cid"))
                .values(
                    amount=bindparam("amount"),
                    currency=bindparam("currency"),
                    due_date=bindparam("due_date"),
                    schedule=bindparam("schedule"),
                    updated_at=now,
                ),
                [
                    {
                        "cid": c.id,
                        "amount": c.amount,
                        "currency": c.currency,
                        "due_date": c.due_date,
                        "schedule": c.schedule,
                    }
                    for c in known
                ],
            )

    # -- planning ---------------------------------------------------------------------------

    def cases_to_plan(self, through: datetime, limit: int) -> list[PlanningCase]:
        c = t.cases.c
        query = (
            select(t.cases, t.people.c.timezone)
            .join(t.people, t.people.c.id == c.person_id)
            .where(
                c.state.not_in([CaseState.PAID.value, CaseState.CLOSED.value]),
                (c.planned_through.is_(None)) | (c.planned_through < through),
            )
            .order_by(c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [
                PlanningCase(self._case(row), row.timezone, row.planned_through)
                for row in conn.execute(query)
            ]

    def add_reminders(
        self,
        reminders: Iterable[NewReminder],
        planned: Iterable[tuple[str, datetime]],
        now: datetime,
    ) -> int:
        rows = [
            {
                "case_id": r.case_id,
                "person_id": r.person_id,
                "schedule": r.schedule,
                "step": r.step,
                "channel": r.channel,
                "template": r.template,
                "due_at": r.due_at,
                "original_due_at": r.due_at,
                "state": r.state.value,
                "tries": 0,
                "last_reason": r.last_reason,
                "created_at": now,
                "updated_at": now,
            }
            for r in reminders
        ]
        marks = [{"cid": case_id, "through": through} for case_id, through in planned]
        with self._write() as conn:
            before = conn.execute(select(func.count()).select_from(t.reminders)).scalar_one()
            if rows:
                conn.execute(self._insert_ignore(t.reminders), rows)
            if marks:
                conn.execute(
                    update(t.cases)
                    .where(t.cases.c.id == bindparam("cid"))
                    .values(planned_through=bindparam("through")),
                    marks,
                )
            after = conn.execute(select(func.count()).select_from(t.reminders)).scalar_one()
        return int(after - before)

    def enqueue(self, reminder: NewReminder, now: datetime) -> int:
        with self._write() as conn:
            result = conn.execute(
                insert(t.reminders).values(
                    case_id=reminder.case_id,
                    person_id=reminder.person_id,
                    schedule=reminder.schedule,
                    step=reminder.step,
                    channel=reminder.channel,
                    template=reminder.template,
                    due_at=reminder.due_at,
                    original_due_at=reminder.due_at,
                    state=ReminderState.PENDING.value,
                    tries=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    # -- dispatch ---------------------------------------------------------------------------

    def _candidates_query(self, now: datetime, limit: int) -> Select[Any]:
        """Due pending reminders, oldest first, of people with nothing in flight. It reads a
        few times ``limit`` rows along the (state, due_at) index rather than ranking every
        due reminder; ``claim_due`` keeps the first per person."""
        r = t.reminders.c
        other = t.reminders.alias("in_flight")
        busy = select(other.c.id).where(
            other.c.person_id == r.person_id,
            other.c.state == ReminderState.CLAIMED.value,
        )
        return (
            select(t.reminders)
            .where(r.state == ReminderState.PENDING.value, r.due_at <= now, ~busy.exists())
            .order_by(r.due_at, r.id)
            .limit(limit * SCAN_FACTOR)
        )

    def _first_per_person(self, rows: Iterable[Any], limit: int) -> list[Reminder]:
        # At most one contact in flight per person: the rest of a person's due reminders wait
        # for a later batch, after this one is recorded.
        due: dict[str, Reminder] = {}
        for row in rows:
            if row.person_id not in due:
                due[row.person_id] = self._reminder(row)
                if len(due) == limit:
                    break
        return list(due.values())

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
            rows = conn.execute(self._candidates_query(now, limit))
            due = self._take_people(conn, self._first_per_person(rows, limit), now)
            if not due:
                return ClaimBatch([], [])
            person_ids = [r.person_id for r in due]
            people = self._people(conn, person_ids)
            cases = self._cases(conn, list({r.case_id for r in due}))
            history = self._history(conn, person_ids, now - lookback)

            claims: list[Claim] = []
            decided: list[tuple[Reminder, Decision]] = []
            sends: list[dict[str, Any]] = []
            attempt_rows: list[dict[str, Any]] = []
            moves: list[dict[str, Any]] = []
            ends: list[dict[str, Any]] = []
            decision_rows: list[dict[str, Any]] = []
            for reminder in due:
                person = people[reminder.person_id]
                case = cases[reminder.case_id]
                past = history.get(reminder.person_id, [])
                decision = decide(reminder, person, case, past)
                decided.append((reminder, decision))
                attempt_id = None
                if decision.verdict is Verdict.SEND:
                    assert decision.contact is not None
                    attempt_id = new_attempt_id()
                    sends.append({"rid": reminder.id})
                    attempt_rows.append(
                        {
                            "id": attempt_id,
                            "reminder_id": reminder.id,
                            "person_id": reminder.person_id,
                            "case_id": reminder.case_id,
                            "channel": reminder.channel,
                            "contact_kind": decision.contact.kind.value,
                            "contact": decision.contact.value,
                            "at": now,
                            "outcome": Outcome.RESERVED.value,
                            "counted": True,
                        }
                    )
                    claims.append(
                        Claim(
                            reminder,
                            person,
                            case,
                            decision,
                            attempt_id,
                            decision.contact,
                            tuple(past),
                        )
                    )
                elif decision.verdict is Verdict.DEFER:
                    moves.append(
                        {"rid": reminder.id, "due": decision.until, "why": _reason_codes(decision)}
                    )
                else:
                    state = (
                        ReminderState.CANCELLED if decision.cancels else ReminderState.SUPPRESSED
                    )
                    ends.append(
                        {"rid": reminder.id, "st": state.value, "why": _reason_codes(decision)}
                    )
                decision_rows.append(
                    {
                        "reminder_id": reminder.id,
                        "case_id": reminder.case_id,
                        "at": now,
                        "verdict": decision.verdict.value,
                        "until": decision.until,
                        "reasons": _reasons_json(decision),
                        "flags": ",".join(decision.flags),
                        "attempt_id": attempt_id,
                        "policy_version": policy_version,
                    }
                )

            rid = t.reminders.c.id == bindparam("rid")
            if sends:
                conn.execute(
                    update(t.reminders)
                    .where(rid)
                    .values(
                        state=ReminderState.CLAIMED.value,
                        tries=t.reminders.c.tries + 1,
                        last_reason=None,
                        claimed_by=node,
                        claimed_at=now,
                        updated_at=now,
                    ),
                    sends,
                )
                conn.execute(insert(t.attempts), attempt_rows)
            if moves:
                conn.execute(
                    update(t.reminders)
                    .where(rid)
                    .values(due_at=bindparam("due"), last_reason=bindparam("why"), updated_at=now),
                    moves,
                )
            if ends:
                conn.execute(
                    update(t.reminders)
                    .where(rid)
                    .values(state=bindparam("st"), last_reason=bindparam("why"), updated_at=now),
                    ends,
                )
            conn.execute(insert(t.decisions), decision_rows)
        return ClaimBatch(claims, decided)

    def record(self, records: Sequence[SendRecord], node: str = "") -> None:
        if not records:
            return
        a = t.attempts.c
        # Literal values: an executemany cannot expand an IN list.
        in_flight = (a.outcome == Outcome.RESERVED.value) | (a.outcome == Outcome.SENDING.value)
        with self._write() as conn:
            conn.execute(
                update(t.attempts)
                .where(a.id == bindparam("aid"))
                .values(
                    # A delivery callback may have settled the attempt before this record:
                    # the provider's later word stands.
                    outcome=case((in_flight, bindparam("outcome")), else_=a.outcome),
                    counted=bindparam("counted"),
                    finished_at=bindparam("fin"),
                    provider_id=bindparam("pid"),
                    error_code=bindparam("code"),
                    detail=bindparam("detail"),
                ),
                [
                    {
                        "aid": r.attempt_id,
                        "outcome": r.outcome.value,
                        "counted": r.counted,
                        "fin": r.finished_at,
                        "pid": r.provider_id,
                        "code": r.error_code,
                        "detail": r.detail,
                    }
                    for r in records
                ],
            )
            finals = [r for r in records if r.reschedule_at is None]
            retries = [r for r in records if r.reschedule_at is not None]
            # Only a reminder this node still holds: one whose claim expired meanwhile belongs
            # to whoever settled or claimed it since.
            rid = (
                (t.reminders.c.id == bindparam("rid"))
                & (t.reminders.c.state == ReminderState.CLAIMED.value)
                & (t.reminders.c.claimed_by == node)
            )
            if finals:
                conn.execute(
                    update(t.reminders)
                    .where(rid)
                    .values(
                        state=bindparam("st"),
                        last_reason=bindparam("why"),
                        updated_at=bindparam("fin"),
                    ),
                    [
                        {
                            "rid": r.reminder_id,
                            "st": r.reminder_state.value,
                            "why": r.error_code,
                            "fin": r.finished_at,
                        }
                        for r in finals
                    ],
                )
            if retries:
                conn.execute(
                    update(t.reminders)
                    .where(rid)
                    .values(
                        state=ReminderState.PENDING.value,
                        due_at=bindparam("due"),
                        last_reason=bindparam("why"),
                        updated_at=bindparam("fin"),
                        tries=t.reminders.c.tries - bindparam("back"),
                    ),
                    [
                        {
                            "rid": r.reminder_id,
                            "due": r.reschedule_at,
                            "why": f"retry:{r.error_code or 'transient'}",
                            "fin": r.finished_at,
                            "back": 0 if r.spent_try else 1,
                        }
                        for r in retries
                    ],
                )
            settled = [r.reminder_id for r in finals if r.reminder_state is ReminderState.SENT]
            for chunk in _chunks(settled):
                reached = (
                    select(a.id)
                    .where(
                        a.reminder_id == t.reminders.c.id,
                        a.outcome.in_([Outcome.DELIVERED.value, Outcome.CONVERSATION.value]),
                    )
                    .exists()
                )
                conn.execute(
                    update(t.reminders)
                    .where(t.reminders.c.id.in_(chunk), reached)
                    .values(state=ReminderState.DELIVERED.value)
                )
            for r in records:
                if r.mark_contact:
                    person_id, kind, value, status = r.mark_contact
                    conn.execute(
                        update(t.contact_points)
                        .where(
                            t.contact_points.c.person_id == person_id,
                            t.contact_points.c.kind == kind,
                            t.contact_points.c.value == value,
                        )
                        .values(status=status, status_reason=r.error_code, updated_at=r.finished_at)
                    )
                    self._touch_person(conn, person_id, r.finished_at)
                if r.opt_out:
                    person_id, channel, value = r.opt_out
                    self._add_opt_out(conn, person_id, channel, value, r.finished_at, "provider")

    def release(self, claims: Sequence[Claim], now: datetime) -> None:
        if not claims:
            return
        with self._write() as conn:
            self._give_back(conn, [(c.reminder.id, c.attempt_id) for c in claims], now, "released")

    @staticmethod
    def _give_back(
        conn: Connection, pairs: Sequence[tuple[int, str]], now: datetime, reason: str
    ) -> int:
        """Return claimed reminders to the pool (due as before, the try not counted) and
        mark their attempts released: nothing was sent. ``pairs``: (reminder id, attempt id).
        Returns how many reminders went back."""
        if not pairs:
            return 0
        back = conn.execute(
            update(t.reminders)
            .where(
                t.reminders.c.id == bindparam("rid"),
                t.reminders.c.state == ReminderState.CLAIMED.value,
            )
            .values(
                state=ReminderState.PENDING.value,
                claimed_by=None,
                claimed_at=None,
                tries=t.reminders.c.tries - 1,
                last_reason=reason,
                updated_at=now,
            ),
            [{"rid": rid} for rid, _ in pairs],
        ).rowcount
        conn.execute(
            update(t.attempts)
            .where(t.attempts.c.id == bindparam("aid"))
            .values(outcome=Outcome.RELEASED.value, counted=False, finished_at=now),
            [{"aid": aid} for _, aid in pairs],
        )
        return back or 0

    def start_sending(self, claims: Sequence[Claim], node: str, now: datetime) -> set[str]:
        a, r, c, p = t.attempts.c, t.reminders.c, t.cases.c, t.people.c
        by_attempt = {claim.attempt_id: claim for claim in claims}
        confirmed: list[str] = []
        changed: list[Claim] = []
        with self._write() as conn:
            for chunk in _chunks(list(by_attempt)):
                # One statement: is it still ours, and are its case and person as claimed?
                for row in conn.execute(
                    select(a.id, c.updated_at.label("case_rev"), p.updated_at.label("person_rev"))
                    .join(t.reminders, r.id == a.reminder_id)
                    .join(t.cases, c.id == a.case_id)
                    .join(t.people, p.id == a.person_id)
                    .where(
                        a.id.in_(chunk),
                        a.outcome.in_([Outcome.RESERVED.value, Outcome.SENDING.value]),
                        r.state == ReminderState.CLAIMED.value,
                        r.claimed_by == node,
                    )
                ):
                    claim = by_attempt[row.id]
                    if row.case_rev == claim.case.revision and (
                        row.person_rev == claim.person.revision
                    ):
                        confirmed.append(row.id)
                    else:
                        changed.append(claim)
            self._give_back(
                conn,
                [(claim.reminder.id, claim.attempt_id) for claim in changed],
                now,
                "changed_after_claim",
            )
            for chunk in _chunks(confirmed):
                conn.execute(
                    update(t.attempts).where(a.id.in_(chunk)).values(outcome=Outcome.SENDING.value)
                )
        return set(confirmed)

    def renew_claims(self, node: str, now: datetime) -> int:
        r = t.reminders.c
        with self._write() as conn:
            renewed = conn.execute(
                update(t.reminders)
                .where(r.state == ReminderState.CLAIMED.value, r.claimed_by == node)
                .values(claimed_at=now)
            ).rowcount
        return renewed or 0

    def recover(
        self, now: datetime, resend_channels: Iterable[str], node: str = ""
    ) -> RecoveryReport:
        r = t.reminders.c
        mine = (r.claimed_by == node) | r.claimed_by.is_(None)
        return self._settle_claims(now, resend_channels, mine)

    def expire_claims(
        self, now: datetime, resend_channels: Iterable[str], lease: timedelta
    ) -> RecoveryReport:
        return self._settle_claims(now, resend_channels, t.reminders.c.claimed_at < now - lease)

    def _settle_claims(
        self, now: datetime, resend_channels: Iterable[str], which: Any
    ) -> RecoveryReport:
        """Claims whose daemon is gone. One never confirmed for sending (``reserved``) goes
        back to the pool: nobody was contacted. One confirmed (``sending``) may have reached
        the person: its outcome is unknown, and the reminder is never sent again unless its
        channel says ``on_unknown = "resend"``."""
        resend = list(resend_channels)
        r, a = t.reminders.c, t.attempts.c
        claimed = (r.state == ReminderState.CLAIMED.value) & which
        settled = {"claimed_by": None, "claimed_at": None, "updated_at": now}
        with self._write() as conn:
            rows = conn.execute(
                select(r.id, a.id.label("aid"), a.outcome)
                .join(t.attempts, a.reminder_id == r.id)
                .where(claimed, a.outcome.in_([Outcome.RESERVED.value, Outcome.SENDING.value]))
            ).all()
            unsent = [(row.id, row.aid) for row in rows if row.outcome == Outcome.RESERVED.value]
            released = self._give_back(conn, unsent, now, "released_after_crash")
            ids = [row.id for row in rows if row.outcome == Outcome.SENDING.value]
            requeued = unknown = 0
            for chunk in _chunks(ids):
                conn.execute(
                    update(t.attempts)
                    .where(
                        t.attempts.c.outcome == Outcome.SENDING.value,
                        t.attempts.c.reminder_id.in_(chunk),
                    )
                    .values(
                        outcome=Outcome.UNKNOWN.value,
                        detail="daemon stopped before recording the outcome",
                    )
                )
                in_chunk = r.id.in_(chunk) & (r.state == ReminderState.CLAIMED.value)
                requeued += (
                    conn.execute(
                        update(t.reminders)
                        .where(in_chunk, r.channel.in_(resend))
                        .values(
                            state=ReminderState.PENDING.value,
                            due_at=now,
                            last_reason="unknown_resend",
                            **settled,
                        )
                    ).rowcount
                    or 0
                )
                unknown += (
                    conn.execute(
                        update(t.reminders)
                        .where(in_chunk)
                        .values(state=ReminderState.UNKNOWN.value, last_reason="unknown", **settled)
                    ).rowcount
                    or 0
                )
        return RecoveryReport(unknown=unknown, requeued=requeued, released=released)

    def next_due_at(self) -> datetime | None:
        r = t.reminders.c
        with self._read() as conn:
            value = conn.execute(
                select(func.min(r.due_at)).where(r.state == ReminderState.PENDING.value)
            ).scalar()
        return value

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
    ) -> Settled:
        a = t.attempts.c
        if attempt_id is not None:
            which = a.id == attempt_id
        elif provider_id is not None:
            which = a.provider_id == provider_id
        else:
            return Settled(False)
        with self._write() as conn:
            row = conn.execute(select(t.attempts).where(which)).first()
            if row is None or row.outcome not in {o.value for o in SETTLE_RANK}:
                return Settled(False)  # unknown to us, or a reservation given back unsent
            if provider_id and row.provider_id and row.provider_id != provider_id:
                return Settled(False)  # the callback is about another message than this one
            changes: dict[str, Any] = {}
            retried = False
            if provider_id and row.provider_id is None:
                changes["provider_id"] = provider_id
            current = Outcome(row.outcome)
            if SETTLE_RANK[outcome] > SETTLE_RANK[current] or (
                current is Outcome.UNKNOWN and outcome is not Outcome.UNKNOWN
            ):
                changes.update(outcome=outcome.value, finished_at=row.finished_at or now)
                if error_code is not None:
                    changes["error_code"] = error_code
                if detail is not None:
                    changes["detail"] = detail
                if row.reminder_id is not None:
                    # An attempt still in flight here is its reminder's current claim: the
                    # report beat the dispatcher's record, which then leaves the reminder be.
                    in_flight = current in (Outcome.RESERVED, Outcome.SENDING)
                    retried = self._settle_reminder(
                        conn, row.reminder_id, outcome, error_code, now, retry, in_flight
                    )
            if changes:
                conn.execute(update(t.attempts).where(a.id == row.id).values(**changes))
            if mark_contact == "opted_out":
                self._add_opt_out(conn, row.person_id, row.channel, row.contact, now, "provider")
            elif mark_contact == "invalid":
                conn.execute(
                    update(t.contact_points)
                    .where(
                        t.contact_points.c.person_id == row.person_id,
                        t.contact_points.c.kind == row.contact_kind,
                        t.contact_points.c.value == row.contact,
                    )
                    .values(status="invalid", status_reason=error_code, updated_at=now)
                )
                self._touch_person(conn, row.person_id, now)
            return Settled(bool(changes), row.person_id, retried)

    def _settle_reminder(
        self,
        conn: Connection,
        reminder_id: int,
        outcome: Outcome,
        error_code: str | None,
        now: datetime,
        retry: Retry | None = None,
        in_flight: bool = False,
    ) -> bool:
        """The reminder follows its attempt's settled outcome, unless it has moved on (pending
        again, claimed for another try): only a sent or unknown one, or a failed one that a
        delivery receipt proves reached the person — or, ``in_flight``, one still claimed for
        this very attempt. Returns whether it went back to pending for another try
        (``retry``)."""
        S = ReminderState
        settled_from: tuple[ReminderState, ...]
        claimed = (S.CLAIMED,) if in_flight else ()
        if outcome is Outcome.FAILED_TRANSIENT and retry is not None:
            return self._retry_reminder(conn, reminder_id, error_code, now, retry, claimed)
        if outcome in (Outcome.DELIVERED, Outcome.CONVERSATION):
            state, settled_from = S.DELIVERED, (S.SENT, S.UNKNOWN, S.FAILED, *claimed)
        elif outcome is Outcome.FAILED_PERMANENT:
            state, settled_from = S.FAILED, (S.SENT, S.UNKNOWN, *claimed)
        else:
            state, settled_from = S.SENT, (S.UNKNOWN,)
        r = t.reminders.c
        values: dict[str, Any] = {"state": state.value, "updated_at": now}
        if claimed:
            values.update(claimed_by=None, claimed_at=None)
        if state is S.FAILED:
            values["last_reason"] = error_code
        conn.execute(
            update(t.reminders)
            .where(r.id == reminder_id, r.state.in_([s.value for s in settled_from]))
            .values(**values)
        )
        return False

    @staticmethod
    def _retry_reminder(
        conn: Connection,
        reminder_id: int,
        error_code: str | None,
        now: datetime,
        retry: Retry,
        also_from: tuple[ReminderState, ...] = (),
    ) -> bool:
        """A delivery that failed for a temporary reason (Twilio 30003, 30008): a reminder
        still sent or unknown (nothing newer happened to it) goes back to pending after the
        dispatcher's backoff, so the next claim decides it again through the policy; at
        ``max_tries`` it fails for good, as a send that kept failing does."""
        S = ReminderState
        r = t.reminders.c
        from_states = [S.SENT.value, S.UNKNOWN.value, *(s.value for s in also_from)]
        row = conn.execute(
            select(r.tries).where(r.id == reminder_id, r.state.in_(from_states))
        ).first()
        if row is None:
            return False
        tries = max(row.tries, 1)  # counted when claimed: this try is already in
        code = error_code or "transient"
        values: dict[str, Any]
        if tries >= retry.max_tries:
            values = {"state": S.FAILED.value, "last_reason": f"gave_up:{code}"}
        else:
            due = now + retry.after * (2 ** (tries - 1))  # as dispatch's backoff
            values = {"state": S.PENDING.value, "due_at": due, "last_reason": f"retry:{code}"}
        values.update(claimed_by=None, claimed_at=None)
        changed = conn.execute(
            update(t.reminders)
            .where(r.id == reminder_id, r.state.in_(from_states))
            .values(updated_at=now, **values)
        ).rowcount
        return bool(changed) and values["state"] == S.PENDING.value

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
        if kind not in CASE_EVENTS:
            raise ValueError(f"unknown case event {kind!r} (known: {', '.join(CASE_EVENTS)})")
        if kind in ("plan", "hardship") and (until is None or until <= now):
            raise ValueError(f"{kind} needs --until with a date in the future")
        state = CASE_EVENTS[kind]
        c = t.cases.c
        with self._write() as conn:
            row = conn.execute(select(t.cases).where(c.id == case_id)).first()
            if row is None:
                raise UnknownCase(case_id)
            values: dict[str, Any] = {"updated_at": now}
            if state is not None:
                values["state"] = state.value
            values["paused_until"] = until if kind in ("plan", "hardship") else None
            conn.execute(update(t.cases).where(c.id == case_id).values(**values))
            conn.execute(
                insert(t.case_events).values(
                    case_id=case_id, kind=kind, until=until, at=now, source=source, detail=detail
                )
            )
            r = t.reminders.c
            if state in (CaseState.PAID, CaseState.CLOSED):
                self._cancel_pending(conn, case_id, state, now)
            elif kind in _BRING_FORWARD:
                conn.execute(
                    update(t.reminders)
                    .where(
                        r.case_id == case_id,
                        r.state == ReminderState.PENDING.value,
                        r.due_at > now,
                        r.original_due_at <= now,
                    )
                    .values(due_at=now, updated_at=now)
                )
            row = conn.execute(select(t.cases).where(c.id == case_id)).one()
        return self._case(row)

    def _cancel_pending(
        self, conn: Connection, case_id: str, state: CaseState, now: datetime
    ) -> None:
        r = t.reminders.c
        pending = list(
            conn.execute(
                select(r.id).where(r.case_id == case_id, r.state == ReminderState.PENDING.value)
            ).scalars()
        )
        if not pending:
            return
        code = f"case_{state.value}"
        text = f"case {case_id} is {state.value}"
        conn.execute(
            update(t.reminders)
            .where(r.id.in_(pending))
            .values(state=ReminderState.CANCELLED.value, last_reason=code, updated_at=now)
        )
        conn.execute(
            insert(t.decisions),
            [
                {
                    "reminder_id": rid,
                    "case_id": case_id,
                    "at": now,
                    "verdict": Verdict.SUPPRESS.value,
                    "until": None,
                    "reasons": json.dumps([[code, text]]),
                    "flags": "event",
                    "attempt_id": None,
                }
                for rid in pending
            ],
        )

    @staticmethod
    def _touch_person(conn: Connection, person_id: str, now: datetime) -> None:
        """A change to what may be sent to a person (opt-out, contact status) changes the
        person's revision, so a claim taken before it is checked again before sending."""
        conn.execute(update(t.people).where(t.people.c.id == person_id).values(updated_at=now))

    def _add_opt_out(
        self,
        conn: Connection,
        person_id: str,
        channel: str,
        contact: str | None,
        now: datetime,
        source: str,
    ) -> None:
        o = t.opt_outs.c
        contact_match = o.contact.is_(None) if contact is None else o.contact == contact
        active = conn.execute(
            select(o.id).where(
                o.person_id == person_id,
                o.channel == channel,
                contact_match,
                o.cleared_at.is_(None),
            )
        ).first()
        if active is None:
            self._touch_person(conn, person_id, now)
            conn.execute(
                insert(t.opt_outs).values(
                    person_id=person_id,
                    channel=channel,
                    contact=contact,
                    source=source,
                    created_at=now,
                )
            )

    def _clear_opt_out(
        self, conn: Connection, person_id: str, channel: str, contact: str | None, now: datetime
    ) -> None:
        o = t.opt_outs.c
        contact_match = o.contact.is_(None) if contact is None else o.contact == contact
        conn.execute(
            update(t.opt_outs)
            .where(
                o.person_id == person_id,
                o.channel == channel,
                contact_match,
                o.cleared_at.is_(None),
            )
            .values(cleared_at=now)
        )
        self._touch_person(conn, person_id, now)

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
            if (
                conn.execute(select(t.people.c.id).where(t.people.c.id == person_id)).first()
                is None
            ):
                raise LookupError(f"no person {person_id!r}")
            if clear:
                self._clear_opt_out(conn, person_id, channel, contact, now)
            else:
                self._add_opt_out(conn, person_id, channel, contact, now, source)

    def opt_out_contact(
        self,
        kind: ContactKind,
        value: str,
        channel: str,
        *,
        now: datetime,
        source: str,
        clear: bool = False,
    ) -> list[str]:
        c = t.contact_points.c
        with self._write() as conn:
            people = sorted(
                set(
                    conn.execute(
                        select(c.person_id).where(c.kind == kind.value, c.value == value)
                    ).scalars()
                )
            )
            for person_id in people:
                if clear:
                    self._clear_opt_out(conn, person_id, channel, value, now)
                else:
                    self._add_opt_out(conn, person_id, channel, value, now, source)
        return people

    # -- reporting --------------------------------------------------------------------------

    def status(self, now: datetime) -> StatusReport:
        r = t.reminders.c
        a = t.attempts.c
        with self._read() as conn:
            by_state = [
                (row.state, row.channel, row.n)
                for row in conn.execute(
                    select(r.state, r.channel, func.count().label("n"))
                    .group_by(r.state, r.channel)
                    .order_by(r.state, r.channel)
                )
            ]
            pending = r.state == ReminderState.PENDING.value
            next_due = conn.execute(select(func.min(r.due_at)).where(pending)).scalar()
            due_now = conn.execute(
                select(func.count()).where(pending, r.due_at <= now)
            ).scalar_one()
            deferred: dict[str, int] = defaultdict(int)
            for row in conn.execute(
                select(r.last_reason, func.count().label("n"))
                .where(pending, r.last_reason.is_not(None))
                .group_by(r.last_reason)
            ):
                for code in str(row.last_reason).split(","):
                    deferred[code] += row.n
            unknown = [
                dict(row._mapping)
                for row in conn.execute(
                    select(a.id, a.reminder_id, a.case_id, a.channel, a.contact, a.at)
                    .where(a.outcome == Outcome.UNKNOWN.value)
                    .order_by(a.at)
                    .limit(50)
                )
            ]
            failures = [
                (row.channel, row.error_code or "-", row.n)
                for row in conn.execute(
                    select(a.channel, a.error_code, func.count().label("n"))
                    .where(
                        a.outcome.in_(
                            [Outcome.FAILED_PERMANENT.value, Outcome.FAILED_TRANSIENT.value]
                        )
                    )
                    .group_by(a.channel, a.error_code)
                )
            ]
        return StatusReport(
            by_state_channel=by_state,
            next_due=next_due,
            due_now=due_now,
            deferred_by_reason=sorted(deferred.items(), key=lambda kv: -kv[1]),
            unknown_attempts=unknown,
            failures=failures,
        )

    def case_of_reminder(self, reminder_id: int) -> str | None:
        with self._read() as conn:
            return conn.execute(
                select(t.reminders.c.case_id).where(t.reminders.c.id == reminder_id)
            ).scalar()

    def case_history(self, case_id: str) -> CaseHistory:
        with self._read() as conn:
            case = self._cases(conn, [case_id]).get(case_id)
            if case is None:
                raise UnknownCase(case_id)
            person = self._people(conn, [case.person_id])[case.person_id]
            history = CaseHistory(person=person, case=case)
            e = t.case_events.c
            history.events = [
                dict(row._mapping)
                for row in conn.execute(
                    select(t.case_events).where(e.case_id == case_id).order_by(e.at, e.id)
                )
            ]
            r = t.reminders.c
            for row in conn.execute(
                select(t.reminders).where(r.case_id == case_id).order_by(r.original_due_at, r.id)
            ):
                history.reminders.append(self._reminder(row))
                history.reminder_reasons[row.id] = row.last_reason
            d = t.decisions.c
            for row in conn.execute(
                select(t.decisions).where(d.case_id == case_id).order_by(d.at, d.id)
            ):
                item = dict(row._mapping)
                item["reasons"] = json.loads(item["reasons"])
                history.decisions.append(item)
            a = t.attempts.c
            history.attempts = [
                dict(row._mapping)
                for row in conn.execute(
                    select(t.attempts).where(a.case_id == case_id).order_by(a.at)
                )
            ]
        return history

    def audit_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        d, a, r = t.decisions.c, t.attempts.c, t.reminders.c
        rows: list[dict[str, Any]] = []
        with self._read() as conn:
            for row in conn.execute(
                select(t.decisions, r.channel, r.template, r.person_id)
                .join(t.reminders, r.id == d.reminder_id)
                .where(d.at >= since, d.at < until)
            ):
                item = dict(row._mapping)
                item["record"] = "decision"
                rows.append(item)
            for row in conn.execute(
                select(t.attempts, r.template, d.policy_version)
                .outerjoin(t.reminders, r.id == a.reminder_id)
                .outerjoin(t.decisions, d.attempt_id == a.id)
                .where(a.at >= since, a.at < until)
            ):
                item = dict(row._mapping)
                item["record"] = "attempt"
                rows.append(item)
        rows.sort(key=lambda item: (item["at"], item["record"] == "attempt"))
        return rows

    # -- API --------------------------------------------------------------------------------

    def list_reminders(
        self, state: str | None, channel: str | None, after_id: int, limit: int
    ) -> list[ListedReminder]:
        r = t.reminders.c
        query = select(t.reminders).where(r.id > after_id).order_by(r.id).limit(limit)
        if state is not None:
            query = query.where(r.state == state)
        if channel is not None:
            query = query.where(r.channel == channel)
        with self._read() as conn:
            return [
                ListedReminder(self._reminder(row), row.last_reason) for row in conn.execute(query)
            ]

    @staticmethod
    def _idempotency_record(row: Any) -> IdempotencyRecord:
        return IdempotencyRecord(
            token=row.token,
            key=row.key,
            request=row.request,
            body_sha256=row.body_sha256,
            status=row.status,
            response=row.response,
            created_at=row.created_at,
        )

    def idempotency_begin(
        self,
        token: str,
        key: str,
        request: str,
        body_sha256: str,
        now: datetime,
        expired_before: datetime,
    ) -> IdempotencyRecord | None:
        k = t.idempotency_keys.c
        this = (k.token == token) & (k.key == key)
        fresh = {
            "request": request,
            "body_sha256": body_sha256,
            "status": None,
            "response": None,
            "created_at": now,
        }
        with self._write() as conn:
            # Insert-or-ignore, then read: two nodes racing for one key see one winner.
            inserted = conn.execute(
                self._insert_ignore(t.idempotency_keys)
                .values(token=token, key=key, **fresh)
                .returning(k.key)
            ).first()
            if inserted is not None:
                return None
            renewed = conn.execute(
                update(t.idempotency_keys)
                .where(this, k.created_at < expired_before)
                .values(**fresh)
            )
            if renewed.rowcount == 1:
                return None
            row = conn.execute(select(t.idempotency_keys).where(this)).one()
        return self._idempotency_record(row)

    def idempotency_finish(self, token: str, key: str, status: int, response: str) -> None:
        k = t.idempotency_keys.c
        with self._write() as conn:
            conn.execute(
                update(t.idempotency_keys)
                .where(k.token == token, k.key == key)
                .values(status=status, response=response)
            )

    def idempotency_abandon(self, token: str, key: str) -> None:
        k = t.idempotency_keys.c
        with self._write() as conn:
            conn.execute(
                delete(t.idempotency_keys).where(k.token == token, k.key == key, k.status.is_(None))
            )
