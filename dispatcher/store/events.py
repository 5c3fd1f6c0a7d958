"""Case events (paid, plan, hardship, dispute, resolve, cease, resume, close, bankrupt,
deceased; a Breathing Space moratorium's start and end): the case's new state, and what it
does to the case's pending reminders."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select, update

from dispatcher.config.schedules_file import ARRANGEMENT_SCHEDULE
from dispatcher.model import Case, CaseState, ReminderState, Verdict
from dispatcher.store import schema as t
from dispatcher.store.api import UnknownCase
from dispatcher.store.planning import next_plan_after_event
from dispatcher.store.rows import case_from_row

CASE_EVENTS: dict[str, CaseState | None] = {
    "paid": CaseState.PAID,
    "close": CaseState.CLOSED,
    "plan": CaseState.PLAN,
    "hardship": CaseState.HARDSHIP,
    "dispute": CaseState.DISPUTED,
    "resolve": CaseState.OPEN,
    "cease": CaseState.CEASED,
    "resume": CaseState.OPEN,
    "bankrupt": CaseState.BANKRUPT,
    "deceased": CaseState.DECEASED,
    # A moratorium (SI 2020/1311) holds the case whatever its state, which it leaves as it is.
    "breathing-space": None,
    "breathing-space-crisis": None,
    "breathing-space-end": None,
}
BREATHING_SPACE_EVENTS = ("breathing-space", "breathing-space-crisis", "breathing-space-end")
# Events that end a pause bring the case's waiting reminders forward to be decided again; a
# moratorium's start or new end does too, so each is held to the end it now has.
_BRING_FORWARD = {"resolve", "resume", "breathing-space", "breathing-space-crisis"}


# The furthest a pause may end. A date beyond is a stand-in for "no end" (9999-12-31), which
# no rule can reckon with (the instants after it overflow); a stop without end is `cease`.
LONGEST_PAUSE = timedelta(days=10 * 366)


def pause_problem(until: datetime | None, now: datetime) -> str | None:
    """What is wrong with ``until`` as the end of a pause (plan, hardship), or None."""
    if until is None or until <= now:
        return "must be in the future"
    if until > now + LONGEST_PAUSE:
        return (
            f"{until:%Y-%m-%d} is more than 10 years ahead: give the pause's real end, or "
            "record cease (no contact) or close for one without end"
        )
    return None


def state_after(kind: str, until: datetime | None, now: datetime) -> CaseState | None:
    """The state an event of ``kind`` puts its case in (None: unchanged); ValueError for an
    unknown event or a pause without a future end within ``LONGEST_PAUSE``."""
    if kind not in CASE_EVENTS:
        raise ValueError(f"unknown case event {kind!r} (known: {', '.join(CASE_EVENTS)})")
    if kind in ("plan", "hardship", "breathing-space") or (
        kind == "breathing-space-crisis" and until is not None
    ):
        if until is None:
            raise ValueError(f"{kind} needs --until with a date in the future")
        problem = pause_problem(until, now)
        if problem:
            label = "the moratorium's end" if kind in BREATHING_SPACE_EVENTS else f"{kind} --until"
            raise ValueError(f"{label}: {problem}")
    return CASE_EVENTS[kind]


def case_event(
    conn: Connection,
    case_id: str,
    kind: str,
    state: CaseState | None,
    *,
    now: datetime,
    until: datetime | None,
    source: str,
    detail: str | None,
    start: datetime | None = None,
) -> Case:
    """Apply the event ``kind`` (its ``state``, from ``state_after``) to the case; a
    moratorium it starts starts at ``start`` when given (an import's date), else as
    ``_moratorium`` says."""
    c = t.cases.c
    row = conn.execute(select(t.cases).where(c.id == case_id)).first()
    if row is None:
        raise UnknownCase(case_id)
    values: dict[str, Any] = {"updated_at": now}
    if state is CaseState.OPEN and _arrangement_active(conn, case_id):
        # A dispute resolved (or a pause ended) during an arrangement: it still holds the
        # ladder, as it did before.
        state = CaseState.PLAN
    if state is not None:
        values["state"] = state.value
        values["paused_until"] = until if kind in ("plan", "hardship") else None
    if kind in BREATHING_SPACE_EVENTS:
        values.update(_moratorium(case_from_row(row), kind, until, now, start))
    values["next_plan_at"] = next_plan_after_event(state)
    conn.execute(update(t.cases).where(c.id == case_id).values(**values))
    conn.execute(
        insert(t.case_events).values(
            case_id=case_id, kind=kind, until=until, at=now, source=source, detail=detail
        )
    )
    r = t.reminders.c
    if state in (CaseState.PAID, CaseState.CLOSED):
        cancel_pending(conn, case_id, state, now)
    elif kind in _BRING_FORWARD:
        conn.execute(
            update(t.reminders).where(*_held(case_id, now)).values(due_at=now, updated_at=now)
        )
    elif kind == "breathing-space-end":
        resume_held(conn, case_id, now, r.schedule != ARRANGEMENT_SCHEDULE)
        conn.execute(
            update(t.reminders)
            .where(*_held(case_id, now), r.schedule == ARRANGEMENT_SCHEDULE)
            .values(due_at=now, updated_at=now)
        )
    row = conn.execute(select(t.cases).where(c.id == case_id)).one()
    return case_from_row(row)


def _moratorium(
    case: Case, kind: str, until: datetime | None, now: datetime, start: datetime | None
) -> dict[str, Any]:
    """The case's moratorium columns after ``kind``: it starts at ``start`` when given; else
    one of the kind still running is given its new end (a crisis treatment's end recorded; it
    keeps its start), or one starts now. An end clears them. ValueError: ending one the case
    does not have."""
    space = case.breathing_space
    running = space is not None and space.runs_at(now)
    if kind == "breathing-space-end":
        if not running:
            raise ValueError(f"case {case.id} has no breathing space to end")
        return {
            "breathing_space": None,
            "breathing_space_start": None,
            "breathing_space_until": None,
        }
    crisis = kind == "breathing-space-crisis"
    if start is None:
        start = space.start if running and space is not None and space.crisis == crisis else now
    return {
        "breathing_space": "crisis" if crisis else "standard",
        "breathing_space_start": start,
        "breathing_space_until": until,
    }


def _held(case_id: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The case's pending reminders already due once and waiting for a later instant."""
    r = t.reminders.c
    return (
        r.case_id == case_id,
        r.state == ReminderState.PENDING.value,
        r.due_at > now,
        r.original_due_at <= now,
    )


def resume_held(conn: Connection, case_id: str, now: datetime, only: ColumnElement[bool]) -> None:
    """The ladder where it stood once a hold ends: the earliest step it held (of those
    ``only`` selects) is due now, the later held ones keep their spacing after it (not all
    at once)."""
    r = t.reminders.c
    held = list(
        conn.execute(
            select(r.id, r.original_due_at)
            .where(
                r.case_id == case_id,
                r.state == ReminderState.PENDING.value,
                r.original_due_at <= now,
                only,
            )
            .order_by(r.original_due_at, r.id)
        )
    )
    if not held:
        return
    first = held[0].original_due_at
    for rid, original in held:
        conn.execute(
            update(t.reminders)
            .where(r.id == rid)
            .values(due_at=now + (original - first), updated_at=now)
        )


def _arrangement_active(conn: Connection, case_id: str) -> bool:
    a = t.arrangements.c
    query = select(a.id).where(a.case_id == case_id, a.state == "active").limit(1)
    return conn.execute(query).first() is not None


def cancel_pending(conn: Connection, case_id: str, state: CaseState, now: datetime) -> None:
    """Cancel the case's pending reminders, each with its decision. Conditional on
    ``pending`` in the one statement: a reminder claimed meanwhile (another node) is its
    claim's to settle, and that claim's confirmation sees the case changed."""
    cancel_reminders(
        conn, case_id, None, f"case_{state.value}", f"case {case_id} is {state.value}", now
    )


def cancel_reminders(
    conn: Connection,
    case_id: str,
    only: ColumnElement[bool] | None,
    code: str,
    text: str,
    now: datetime,
) -> int:
    """Cancel the case's pending reminders (those of them ``only`` selects), each with its
    decision giving ``code`` and ``text``; returns how many."""
    r = t.reminders.c
    condition = [r.case_id == case_id, r.state == ReminderState.PENDING.value]
    if only is not None:
        condition.append(only)
    pending = list(
        conn.execute(
            update(t.reminders)
            .where(*condition)
            .values(state=ReminderState.CANCELLED.value, last_reason=code, updated_at=now)
            .returning(r.id)
        ).scalars()
    )
    if not pending:
        return 0
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
    return len(pending)
