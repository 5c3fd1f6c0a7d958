"""Attempts' outcomes: the dispatcher's records of its sends, and providers' delivery reports
that settle an attempt later; the reminder follows its attempt."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, String, bindparam, case, func, or_, select, update

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import opt_outs
from dispatcher.store import schema as t
from dispatcher.store.api import SETTLE_RANK, Retry, SendRecord, Settled
from dispatcher.store.bulk import execute_many, rows_in
from dispatcher.store.claims import IN_FLIGHT
from dispatcher.store.dialect import Dialect

log = logging.getLogger("dispatcher.store")

# -- the dispatcher's records ----------------------------------------------------------------


def record(conn: Connection, dialect: Dialect, records: Sequence[SendRecord], node: str) -> None:
    if not any(r.mark_contact or r.opt_out for r in records):
        # Outcomes lost in a database crash leave their attempts ``sending``, which recovery
        # turns into ``unknown``: never sent again, and counted toward the limits as before.
        # An opt-out or a dead address is never written this way: a lost one could let a
        # later reminder reach someone who asked not to be contacted.
        dialect.commit_without_flush(conn)
    written = record_outcomes(conn, records)
    finals = [r for r in written if r.reschedule_at is None]
    retries = [r for r in written if r.reschedule_at is not None]
    finish_reminders(conn, finals, node)
    reschedule_reminders(conn, retries, node)
    for r in records:  # what a provider said of an address holds, whatever the race
        if r.mark_contact:
            person_id, kind, value, status = r.mark_contact
            opt_outs.mark_contact(conn, person_id, kind, value, status, r.error_code, r.finished_at)
        if r.opt_out:
            person_id, channel, value = r.opt_out
            opt_outs.add_opt_out(conn, person_id, channel, value, r.finished_at, "provider")


def one_of(column: Any, values: Sequence[str]) -> Any:
    # Literal values: an executemany cannot expand an IN list.
    return or_(*(column == value for value in values))


# Attempts whose outcome is the sender's to write: those still in flight. One that recovery
# settled meanwhile (``unknown``, its reminder perhaps claimed again) is not reopened.
RECORDABLE = IN_FLIGHT
# Outcomes a provider's report gave an attempt before its record arrived: the provider's later
# word stands, and the record only fills in what the report left empty.
REPORTED = tuple(
    o.value
    for o in (
        Outcome.PLACED,
        Outcome.FAILED_TRANSIENT,
        Outcome.FAILED_PERMANENT,
        Outcome.DELIVERED,
        Outcome.CONVERSATION,
    )
)


def record_outcomes(conn: Connection, records: Sequence[SendRecord]) -> list[SendRecord]:
    """Write each record on its attempt, a compare-and-set on the attempt's outcome: one
    still ``RECORDABLE`` takes the record's outcome; one a report settled first
    (``REPORTED``) keeps the report's and only has what it left empty filled in; one settled
    meanwhile by recovery (``unknown``: its claim expired; ``released``: given back, so
    nothing should have been sent) is left as it is, and logged for an operator to look at.
    Returns the records not lost so, whose reminders follow."""
    if not records:
        return []
    outcome = _outcomes(conn, [r.attempt_id for r in records])
    ours = [r for r in records if outcome.get(r.attempt_id) in RECORDABLE]
    written = ours
    if ours:
        count = execute_many(conn, _WRITE_OUTCOMES, _rows(ours))
        if count != len(ours):  # settled on another connection since the look: rare
            outcome.update(_outcomes(conn, [r.attempt_id for r in ours]))
            written = [r for r in ours if outcome.get(r.attempt_id) == r.outcome.value]
    done = {r.attempt_id for r in written}
    rest = [r for r in records if r.attempt_id not in done]
    reported = [r for r in rest if outcome.get(r.attempt_id) in REPORTED]
    if reported:
        execute_many(conn, _FILL_REPORTED, _rows(reported))
    lost = [r for r in rest if outcome.get(r.attempt_id) not in REPORTED]
    if lost:
        log.warning(
            "outcomes not recorded: their claims were settled before the record",
            extra={
                "fields": {
                    "count": len(lost),
                    "attempts": ",".join(r.attempt_id for r in lost[:20]),
                    "outcomes": ",".join(sorted({r.outcome.value for r in lost})),
                }
            },
        )
    return written + reported


def _rows(records: Sequence[SendRecord]) -> list[dict[str, Any]]:
    # No key is a column's name: an update's executemany would set that column from it.
    return [
        {
            "aid": r.attempt_id,
            "out": r.outcome.value,
            "cnt": r.counted,
            "fin": r.finished_at,
            "pid": r.provider_id,
            "code": r.error_code,
            "why": r.detail,
        }
        for r in records
    ]


_A = t.attempts.c
OUTCOMES_OF = select(_A.id, _A.outcome).where(_A.id.in_(bindparam("ids", expanding=True)))


def _outcomes(conn: Connection, attempt_ids: Sequence[str]) -> dict[str, str]:
    return dict(rows_in(conn, OUTCOMES_OF, "ids", list(attempt_ids)))


_WRITE_OUTCOMES = (
    update(t.attempts)
    .where(_A.id == bindparam("aid"), one_of(_A.outcome, RECORDABLE))
    .values(
        outcome=bindparam("out"),
        counted=bindparam("cnt"),
        finished_at=bindparam("fin"),
        provider_id=bindparam("pid"),
        error_code=bindparam("code"),
        detail=bindparam("why"),
    )
)
_FILL_REPORTED = (
    update(t.attempts)
    .where(_A.id == bindparam("aid"), one_of(_A.outcome, REPORTED))
    .values(
        counted=bindparam("cnt"),
        finished_at=func.coalesce(_A.finished_at, bindparam("fin")),
        provider_id=func.coalesce(_A.provider_id, bindparam("pid")),
        error_code=func.coalesce(_A.error_code, bindparam("code")),
        detail=func.coalesce(_A.detail, bindparam("why")),
    )
)


def held_by() -> Any:
    # Only a reminder this node (``node``) still holds for this very attempt: one whose claim
    # expired meanwhile belongs to whoever settled or claimed it since (the same node
    # included: a new claim has an attempt of its own in flight).
    a = t.attempts.c
    another_claim = (
        select(a.id)
        .where(
            a.reminder_id == t.reminders.c.id,
            a.id != bindparam("aid"),
            one_of(a.outcome, IN_FLIGHT),
        )
        .exists()
    )
    return (
        (t.reminders.c.id == bindparam("rid"))
        & (t.reminders.c.state == ReminderState.CLAIMED.value)
        & (t.reminders.c.claimed_by == bindparam("node", type_=String))
        & ~another_claim
    )


def _finish_statement() -> Any:
    a = t.attempts.c
    # A sent reminder whose attempt a delivery report already settled as reached is
    # delivered: looked up by the attempt's key, in the same statement.
    reached = (
        select(a.id)
        .where(
            a.id == bindparam("aid"),
            # Literal values: an executemany cannot expand an IN list.
            (a.outcome == Outcome.DELIVERED.value) | (a.outcome == Outcome.CONVERSATION.value),
        )
        .exists()
    )
    state = bindparam("st", type_=String)
    return (
        update(t.reminders)
        .where(held_by())
        .values(
            state=case(
                ((state == ReminderState.SENT.value) & reached, ReminderState.DELIVERED.value),
                else_=state,
            ),
            last_reason=bindparam("why"),
            updated_at=bindparam("fin", type_=t.UTCDateTime),
        )
    )


FINISH_REMINDERS = _finish_statement()
RESCHEDULE_REMINDERS = (
    update(t.reminders)
    .where(held_by())
    .values(
        state=ReminderState.PENDING.value,
        due_at=bindparam("due", type_=t.UTCDateTime),
        last_reason=bindparam("why"),
        updated_at=bindparam("fin", type_=t.UTCDateTime),
        tries=t.reminders.c.tries - bindparam("back", type_=Integer),
    )
)


def finish_reminders(conn: Connection, finals: Sequence[SendRecord], node: str) -> None:
    execute_many(
        conn,
        FINISH_REMINDERS,
        [
            {
                "rid": r.reminder_id,
                "aid": r.attempt_id,
                "st": r.reminder_state.value,
                "why": r.error_code,
                "fin": r.finished_at,
                "node": node,
            }
            for r in finals
        ],
    )


def reschedule_reminders(conn: Connection, retries: Sequence[SendRecord], node: str) -> None:
    execute_many(
        conn,
        RESCHEDULE_REMINDERS,
        [
            {
                "rid": r.reminder_id,
                "aid": r.attempt_id,
                "due": r.reschedule_at,
                "why": f"retry:{r.error_code or 'transient'}",
                "fin": r.finished_at,
                "back": 0 if r.spent_try else 1,
                "node": node,
            }
            for r in retries
        ],
    )


# -- providers' delivery reports -------------------------------------------------------------


# Tries of a report's compare-and-set before it gives up: each lost one means another
# report or record settled the attempt between the look and the write, so few are needed.
SETTLE_TRIES = 5


def settle_attempt(
    conn: Connection,
    *,
    attempt_id: str | None,
    provider_id: str | None,
    outcome: Outcome,
    now: datetime,
    error_code: str | None,
    detail: str | None,
    mark_contact: str | None,
    retry: Retry | None,
) -> Settled:
    """``settle_attempt`` of the store, for a callback naming an attempt or a provider id.
    The attempt's update is a compare-and-set on the outcome it was read with: a report or
    record that settled it meanwhile on another connection (another node's callback) has the
    report read it again and decide anew, so an outcome never moves backward."""
    if attempt_id is None and provider_id is None:
        return Settled(False)  # names no attempt: "provider_id IS NULL" would match any
    a = t.attempts.c
    which = a.id == attempt_id if attempt_id is not None else a.provider_id == provider_id
    for _ in range(SETTLE_TRIES):
        row = conn.execute(select(t.attempts).where(which)).first()
        if row is None or row.outcome not in {o.value for o in SETTLE_RANK}:
            return Settled(False)  # unknown to us, or a reservation given back unsent
        if provider_id and row.provider_id and row.provider_id != provider_id:
            return Settled(False)  # the callback is about another message than this one
        changes = report_changes(row, provider_id, outcome, now, error_code, detail)
        if (
            changes
            and not conn.execute(
                update(t.attempts).where(a.id == row.id, a.outcome == row.outcome).values(**changes)
            ).rowcount
        ):
            continue  # settled meanwhile on another connection: read it again
        break
    else:
        return Settled(False)
    retried = False
    if "outcome" in changes and row.reminder_id is not None:
        # An attempt still in flight here is its reminder's current claim: the
        # report beat the dispatcher's record, which then leaves the reminder be.
        in_flight = row.outcome in IN_FLIGHT
        retried = settle_reminder(conn, row.reminder_id, outcome, error_code, now, retry, in_flight)
    if mark_contact == "opted_out":
        opt_outs.add_opt_out(conn, row.person_id, row.channel, row.contact, now, "provider")
    elif mark_contact == "invalid":
        opt_outs.mark_contact(
            conn, row.person_id, row.contact_kind, row.contact, "invalid", error_code, now
        )
    return Settled(bool(changes), row.person_id, retried)


def report_changes(
    row: Any,
    provider_id: str | None,
    outcome: Outcome,
    now: datetime,
    error_code: str | None,
    detail: str | None,
) -> dict[str, Any]:
    """What a report changes on the attempt ``row``: the provider's id if it had none, and
    the outcome only forward (``SETTLE_RANK``; an ``unknown`` one takes any report's)."""
    changes: dict[str, Any] = {}
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
    return changes


def settle_reminder(
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
        return retry_reminder(conn, reminder_id, error_code, now, retry, claimed)
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


def retry_reminder(
    conn: Connection,
    reminder_id: int,
    error_code: str | None,
    now: datetime,
    retry: Retry,
    also_from: tuple[ReminderState, ...] = (),
) -> bool:
    """A delivery that failed for a temporary reason (Twilio 30003, 30008): a reminder
    still sent or unknown (nothing newer happened to it) goes back to pending after its
    channel's backoff, so the next claim decides it again through the policy; at
    ``max_tries`` (or ``give_up_after``) it fails for good, as a send that kept failing does."""
    S = ReminderState
    r = t.reminders.c
    from_states = [S.SENT.value, S.UNKNOWN.value, *(s.value for s in also_from)]
    row = conn.execute(
        select(r.tries, r.channel).where(r.id == reminder_id, r.state.in_(from_states))
    ).first()
    if row is None:
        return False
    rule = retry.of(row.channel)
    tries = max(row.tries, 1)  # counted when claimed: this try is already in
    code = error_code or "transient"
    values: dict[str, Any]
    if tries >= rule.max_tries or rule.expired(tries - 1):
        values = {"state": S.FAILED.value, "last_reason": f"gave_up:{code}"}
    else:
        due = now + rule.wait(tries - 1)  # as a refused send's backoff
        values = {"state": S.PENDING.value, "due_at": due, "last_reason": f"retry:{code}"}
    values.update(claimed_by=None, claimed_at=None)
    changed = conn.execute(
        update(t.reminders)
        .where(r.id == reminder_id, r.state.in_(from_states))
        .values(updated_at=now, **values)
    ).rowcount
    return bool(changed) and values["state"] == S.PENDING.value
