"""Claims: taking due reminders, one per person, deciding each and reserving the attempt of
each send in the same transaction; giving claimed reminders back; when the next is due."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from dispatcher.model import (
    Attempt,
    Case,
    Decision,
    Outcome,
    Person,
    Reminder,
    ReminderState,
    Verdict,
)
from dispatcher.store import schema as t
from dispatcher.store.api import Claim, ClaimBatch, DecideFn
from dispatcher.store.arrangements import with_instalments
from dispatcher.store.bulk import execute_in, execute_many
from dispatcher.store.candidates import due_reminders
from dispatcher.store.dialect import Dialect
from dispatcher.store.rows import cases_by_id, chunks, history_by_person, people_by_id


def new_attempt_id() -> str:
    """32 hex digits, as a UUID's: the time in microseconds, then 72 random bits. Ids made
    one after another sort together, so each claim's inserts touch the end of the attempts'
    key index instead of a page anywhere in it (at a million attempts, every one a page read
    and written)."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(9)}"


def claim_due(
    conn: Connection,
    dialect: Dialect,
    now: datetime,
    limit: int,
    decide: DecideFn,
    lookback: timedelta,
    node: str,
    policy_version: str | None,
) -> ClaimBatch:
    due = dialect.take_people(conn, due_reminders(conn, dialect, now, limit), now)
    if not due:
        return ClaimBatch([], [])
    person_ids = [r.person_id for r in due]
    people = people_by_id(conn, person_ids)
    cases = cases_by_id(conn, list({r.case_id for r in due}))
    history = history_by_person(conn, person_ids, now - lookback)
    batch = decide_due(due, people, cases, history, decide, now, policy_version)
    batch.claims[:] = with_instalments(conn, batch.claims)
    # A claim lost in a database crash sent nothing: nothing goes to a channel before its
    # confirmation commits, and that commit waits for the disk, this claim included.
    dialect.commit_without_flush(conn)
    write_claims(conn, batch, node, now)
    return ClaimBatch(batch.claims, batch.decided)


# The columns written of each reserved attempt and each decision.
ATTEMPT_FIELDS = (
    "id",
    "reminder_id",
    "person_id",
    "case_id",
    "channel",
    "contact_kind",
    "contact",
    "at",
    "outcome",
    "counted",
)
DECISION_FIELDS = (
    "reminder_id",
    "case_id",
    "at",
    "verdict",
    "until",
    "reasons",
    "flags",
    "attempt_id",
    "policy_version",
)


@dataclass
class DecidedBatch:
    """Due reminders as decided, before anything is written: the claims and decisions to
    hand back, and the rows of each statement that writes them."""

    claims: list[Claim] = field(default_factory=list)
    decided: list[tuple[Reminder, Decision]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    attempt_rows: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    ends: list[dict[str, Any]] = field(default_factory=list)
    decision_rows: list[dict[str, Any]] = field(default_factory=list)


def decide_due(
    due: Sequence[Reminder],
    people: dict[str, Person],
    cases: dict[str, Case],
    history: dict[str, list[Attempt]],
    decide: DecideFn,
    now: datetime,
    policy_version: str | None,
) -> DecidedBatch:
    """Decide each due reminder, in order, and gather what the batch writes."""
    batch = DecidedBatch()
    for reminder in due:
        person = people[reminder.person_id]
        case = cases[reminder.case_id]
        past = history.get(reminder.person_id, [])
        decision = decide(reminder, person, case, past)
        batch.decided.append((reminder, decision))
        attempt_id = None
        if decision.verdict is Verdict.SEND:
            attempt_id = _reserve(batch, reminder, person, case, past, decision, now)
        elif decision.verdict is Verdict.DEFER:
            batch.moves.append(
                {"rid": reminder.id, "due": decision.until, "why": _reason_codes(decision)}
            )
        else:
            state = ReminderState.CANCELLED if decision.cancels else ReminderState.SUPPRESSED
            batch.ends.append(
                {"rid": reminder.id, "st": state.value, "why": _reason_codes(decision)}
            )
        batch.decision_rows.append(
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
    return batch


def _reserve(
    batch: DecidedBatch,
    reminder: Reminder,
    person: Person,
    case: Case,
    past: list[Attempt],
    decision: Decision,
    now: datetime,
) -> str:
    """A send: claim the reminder and reserve its attempt. Returns the attempt's id."""
    assert decision.contact is not None
    attempt_id = new_attempt_id()
    batch.sends.append({"rid": reminder.id})
    batch.attempt_rows.append(
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
    batch.claims.append(
        Claim(reminder, person, case, decision, attempt_id, decision.contact, tuple(past))
    )
    return attempt_id


def _reasons_json(decision: Decision) -> str:
    # [code, text], or [code, text, rule] when the reason names the rule that produced it.
    return json.dumps(
        [[r.code, r.text, r.rule] if r.rule else [r.code, r.text] for r in decision.reasons],
        ensure_ascii=False,
    )


def _reason_codes(decision: Decision) -> str | None:
    return ",".join(r.code for r in decision.reasons) or None


_RIDS = t.reminders.c.id.in_(bindparam("rids", expanding=True))
# The statements each claim runs for its rows (``bulk``: compiled once). The reminders' updates
# are one per batch for the sends and one per distinct (instant, reasons) of its deferrals and
# (state, reasons) of the rest: on PostgreSQL each statement fires the tallies' statement
# trigger once, so an update per reminder cost a trigger run per reminder (half the
# claim's writes). Inserts stay a statement per row: measured, psycopg's pipeline of a
# prepared statement beat one statement of thousands of parameters on PostgreSQL, and
# SQLite's executemany beat it too.
CLAIM_SENDS = (
    update(t.reminders)
    .where(_RIDS)
    .values(
        state=ReminderState.CLAIMED.value,
        tries=t.reminders.c.tries + 1,
        last_reason=None,
        claimed_by=bindparam("node"),
        claimed_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
RESERVE_ATTEMPTS = insert(t.attempts).values({c: bindparam(c) for c in ATTEMPT_FIELDS})
MOVE_DEFERRALS = (
    update(t.reminders)
    .where(_RIDS)
    .values(due_at=bindparam("due"), last_reason=bindparam("why"), updated_at=bindparam("now"))
)
END_REMINDERS = (
    update(t.reminders)
    .where(_RIDS)
    .values(state=bindparam("st"), last_reason=bindparam("why"), updated_at=bindparam("now"))
)
RECORD_DECISIONS = insert(t.decisions).values({c: bindparam(c) for c in DECISION_FIELDS})


def write_claims(conn: Connection, batch: DecidedBatch, node: str, now: datetime) -> None:
    """Claim the sends (their attempts reserved), move the deferrals, end the rest, and
    record every decision."""
    if batch.sends:
        sends = [row["rid"] for row in batch.sends]
        execute_in(conn, CLAIM_SENDS, "rids", sends, {"node": node, "now": now})
        execute_many(conn, RESERVE_ATTEMPTS, batch.attempt_rows)
    for (due, why), rids in _grouped(batch.moves, "due").items():
        execute_in(conn, MOVE_DEFERRALS, "rids", rids, {"due": due, "why": why, "now": now})
    for (state, why), rids in _grouped(batch.ends, "st").items():
        execute_in(conn, END_REMINDERS, "rids", rids, {"st": state, "why": why, "now": now})
    execute_many(conn, RECORD_DECISIONS, batch.decision_rows)


def _grouped(rows: Sequence[dict[str, Any]], value: str) -> dict[tuple[Any, Any], list[int]]:
    """The reminder ids of ``rows`` by their (``value``, reasons)."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    for row in rows:
        groups.setdefault((row[value], row["why"]), []).append(row["rid"])
    return groups


# An attempt in flight is its reminder's current claim: a reminder has at most one.
IN_FLIGHT = (Outcome.RESERVED.value, Outcome.SENDING.value)


def give_back(
    conn: Connection,
    pairs: Sequence[tuple[int, str]],
    now: datetime,
    reason: str,
    expected: Sequence[str] = IN_FLIGHT,
) -> int:
    """Return claimed reminders to the pool (due as before, the try not counted) and
    mark their attempts released: nothing was sent. ``pairs``: (reminder id, attempt id).

    A compare-and-set on the attempt: only one whose outcome is still one of ``expected``
    is released, and only its reminder goes back. One settled meanwhile on another
    connection (its send recorded, a provider's report, another node's recovery) is left as
    it is: the claim was no longer this one to give back. Returns how many reminders went
    back."""
    if not pairs:
        return 0
    a, r = t.attempts.c, t.reminders.c
    released: list[int] = []
    for chunk in chunks([aid for _, aid in pairs]):
        released += conn.execute(
            update(t.attempts)
            .where(a.id.in_(chunk), a.outcome.in_(list(expected)))
            .values(outcome=Outcome.RELEASED.value, counted=False, finished_at=now)
            .returning(a.reminder_id)
        ).scalars()
    back = 0
    for chunk in chunks([rid for rid in released if rid is not None]):
        back += (
            conn.execute(
                update(t.reminders)
                .where(r.id.in_(chunk), r.state == ReminderState.CLAIMED.value)
                .values(
                    state=ReminderState.PENDING.value,
                    claimed_by=None,
                    claimed_at=None,
                    tries=r.tries - 1,
                    last_reason=reason,
                    updated_at=now,
                )
            ).rowcount
            or 0
        )
    return back


def next_due_at(conn: Connection) -> datetime | None:
    r = t.reminders.c
    value: datetime | None = conn.execute(
        select(func.min(r.due_at)).where(r.state == ReminderState.PENDING.value)
    ).scalar()
    return value
