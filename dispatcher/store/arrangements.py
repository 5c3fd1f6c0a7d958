"""Arrangements and payments over a connection: an arrangement made with its instalments'
reminders (the case held on ``plan``), payments settling instalments oldest first, an
arrangement ended (kept, broken, cancelled) with its remaining reminders cancelled and the
case's ladder resumed where it stood. Every change is a row of the case's events, which
``explain`` shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from dispatcher.config.schedules_file import ARRANGEMENT_SCHEDULE
from dispatcher.model import (
    Arrangement,
    ArrangementState,
    Case,
    CaseState,
    Instalment,
    settle,
)
from dispatcher.store import events
from dispatcher.store import schema as t
from dispatcher.store.api import UnknownCase
from dispatcher.store.arrangements_api import (
    ArrangementRefused,
    BrokenArrangement,
    InstalmentRemindersFn,
    PaymentResult,
    RefuseFn,
)
from dispatcher.store.planning import reminder_rows
from dispatcher.store.rows import case_from_row

_STATES = {s.value: s for s in ArrangementState}


def _case(conn: Connection, case_id: str) -> Case:
    c = t.cases.c
    # Locked on PostgreSQL, so two payments of one case are applied one after the other.
    row = conn.execute(select(t.cases).where(c.id == case_id).with_for_update()).first()
    if row is None:
        raise UnknownCase(case_id)
    return case_from_row(row)


def _money(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


def balance(conn: Connection, case_id: str, case: Case | None = None) -> Decimal:
    case = case or _case(conn, case_id)
    p = t.payments.c
    paid = conn.execute(select(p.amount).where(p.case_id == case_id)).scalars()
    return _money(case.amount) - sum((Decimal(a) for a in paid), Decimal(0))


def record(
    conn: Connection, case_id: str, kind: str, detail: str, now: datetime, source: str
) -> None:
    conn.execute(
        insert(t.case_events).values(
            case_id=case_id, kind=kind, until=None, at=now, source=source, detail=detail
        )
    )


def _load(conn: Connection, rows: Sequence[object]) -> list[Arrangement]:
    ids = [row.id for row in rows]  # type: ignore[attr-defined]
    i = t.instalments.c
    parts: dict[int, list[Instalment]] = {aid: [] for aid in ids}
    if ids:
        query = select(t.instalments).where(i.arrangement_id.in_(ids)).order_by(i.number)
        for r in conn.execute(query):
            parts[r.arrangement_id].append(
                Instalment(r.number, r.due, Decimal(r.amount), Decimal(r.paid), r.deadline)
            )
    return [
        Arrangement(
            row.id,  # type: ignore[attr-defined]
            row.case_id,  # type: ignore[attr-defined]
            row.kind,  # type: ignore[attr-defined]
            _STATES[row.state],  # type: ignore[attr-defined]
            tuple(parts[row.id]),  # type: ignore[attr-defined]
            row.created_at,  # type: ignore[attr-defined]
            row.reason,  # type: ignore[attr-defined]
        )
        for row in rows
    ]


def of_case(conn: Connection, case_id: str) -> list[Arrangement]:
    a = t.arrangements.c
    rows = list(conn.execute(select(t.arrangements).where(a.case_id == case_id).order_by(a.id)))
    return _load(conn, rows)


def active(conn: Connection, case_id: str) -> Arrangement | None:
    return next((x for x in of_case(conn, case_id) if x.state is ArrangementState.ACTIVE), None)


def active_all(conn: Connection) -> list[Arrangement]:
    a = t.arrangements.c
    query = select(t.arrangements).where(a.state == ArrangementState.ACTIVE.value).order_by(a.id)
    return _load(conn, list(conn.execute(query)))


def counts(conn: Connection) -> dict[str, int]:
    a = t.arrangements.c
    query = select(a.state, func.count()).group_by(a.state)
    return {state: n for state, n in conn.execute(query)}


def describe(arrangement: Arrangement | Sequence[Instalment], currency: str) -> str:
    parts = arrangement.instalments if isinstance(arrangement, Arrangement) else arrangement
    return ", ".join(f"{i.amount} {currency} by {i.due}" for i in parts)


def add(
    conn: Connection,
    case_id: str,
    kind: str,
    instalments: Sequence[Instalment],
    reminders: InstalmentRemindersFn,
    refuse: RefuseFn,
    now: datetime,
    source: str,
) -> Arrangement:
    case = _case(conn, case_id)
    reason = refuse(case, balance(conn, case_id, case))
    current = active(conn, case_id)
    if reason is None and current is not None:
        reason = f"arrangement {current.id} is active on case {case_id}: cancel it first"
    if reason is not None:
        raise ArrangementRefused(reason)
    aid = conn.execute(
        insert(t.arrangements).values(
            case_id=case_id,
            kind=kind,
            state=ArrangementState.ACTIVE.value,
            source=source,
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    conn.execute(
        insert(t.instalments),
        [
            {
                "arrangement_id": aid,
                "number": x.number,
                "due": x.due,
                "amount": str(x.amount),
                "paid": "0",
                "deadline": x.deadline,
                "settled_at": None,
            }
            for x in instalments
        ],
    )
    rows = reminder_rows(reminders(int(aid)), now)
    if rows:  # keyed by the new arrangement's id: none exists yet
        conn.execute(insert(t.reminders), rows)
    c = t.cases.c
    conn.execute(
        update(t.cases)
        .where(c.id == case_id)
        .values(state=CaseState.PLAN.value, paused_until=None, updated_at=now)
    )
    label = "a promise to pay" if kind == "promise" else f"a plan of {len(instalments)} instalments"
    detail = f"arrangement {aid}: {label} ({describe(instalments, case.currency)}); ladder paused"
    record(conn, case_id, "arrangement", detail, now, source)
    made = active(conn, case_id)
    assert made is not None
    return made


def _of_arrangement(aid: int, number: int | None = None) -> ColumnElement[bool]:
    prefix = f"{aid}/" if number is None else f"{aid}/{number}/"
    r = t.reminders.c
    return (r.schedule == ARRANGEMENT_SCHEDULE) & r.step.startswith(prefix, autoescape=True)


def end(
    conn: Connection,
    arrangement: Arrangement,
    state: ArrangementState,
    reason: str,
    now: datetime,
    source: str,
) -> None:
    """End ``arrangement`` in ``state``: its pending reminders cancelled, why recorded."""
    a = t.arrangements.c
    conn.execute(
        update(t.arrangements)
        .where(a.id == arrangement.id)
        .values(state=state.value, reason=reason, updated_at=now)
    )
    code = f"arrangement_{state.value}"
    events.cancel_reminders(
        conn,
        arrangement.case_id,
        _of_arrangement(arrangement.id),
        code,
        reason,
        now,
    )
    record(conn, arrangement.case_id, code, f"arrangement {arrangement.id}: {reason}", now, source)


def resume_ladder(conn: Connection, case: Case, now: datetime) -> None:
    """The case off ``plan`` and its ladder where it stood: the earliest step held while the
    arrangement was active is due now, the later held ones keep their spacing after it (not
    all at once); the planner looks at the case again."""
    c, r = t.cases.c, t.reminders.c
    values: dict[str, object] = {"updated_at": now, "next_plan_at": t.PLAN_AT_ONCE}
    if case.state is CaseState.PLAN:
        values.update(state=CaseState.OPEN.value, paused_until=None)
    conn.execute(update(t.cases).where(c.id == case.id).values(**values))
    events.resume_held(conn, case.id, now, r.schedule != ARRANGEMENT_SCHEDULE)


def move_to_schedule(conn: Connection, case: Case, schedule: str, now: datetime) -> None:
    """The case's ladder replaced by ``schedule``, its days counted from today: the old
    ladder's pending reminders cancelled, the new one planned at the next pass."""
    r = t.reminders.c
    events.cancel_reminders(
        conn,
        case.id,
        r.schedule != ARRANGEMENT_SCHEDULE,
        "arrangement_broken",
        f"the arrangement broke: the case moved to schedule {schedule}",
        now,
    )
    conn.execute(
        update(t.cases)
        .where(t.cases.c.id == case.id)
        .values(
            state=CaseState.OPEN.value if case.state is CaseState.PLAN else case.state.value,
            paused_until=None,
            schedule=schedule,
            due_date=now.date(),
            planned_through=None,
            next_plan_at=t.PLAN_AT_ONCE,
            updated_at=now,
        )
    )


def _settle_instalments(
    conn: Connection, arrangement: Arrangement, amount: Decimal, now: datetime
) -> tuple[tuple[int, ...], Decimal, bool]:
    """``amount`` applied to the arrangement's instalments; the numbers newly settled, what
    was left over, and whether all are now settled."""
    after, left = settle(arrangement.instalments, amount)
    i = t.instalments.c
    newly = []
    for old, new in zip(arrangement.instalments, after, strict=True):
        if new.paid == old.paid:
            continue
        values: dict[str, object] = {"paid": str(new.paid)}
        if new.settled and not old.settled:
            values["settled_at"] = now
            newly.append(new.number)
            events.cancel_reminders(
                conn,
                arrangement.case_id,
                _of_arrangement(arrangement.id, new.number),
                "instalment_paid",
                f"instalment {new.number} of arrangement {arrangement.id} is paid",
                now,
            )
        conn.execute(
            update(t.instalments)
            .where(i.arrangement_id == arrangement.id, i.number == new.number)
            .values(**values)
        )
    return tuple(newly), left, all(x.settled for x in after)


def pay(
    conn: Connection,
    case_id: str,
    amount: Decimal,
    paid_on: date,
    reference: str,
    now: datetime,
    source: str,
) -> PaymentResult:
    case = _case(conn, case_id)
    p = t.payments.c
    seen = conn.execute(select(p.id).where(p.case_id == case_id, p.reference == reference)).first()
    if seen is not None:
        return PaymentResult(
            balance(conn, case_id, case), arrangement=active(conn, case_id), duplicate=True
        )
    conn.execute(
        insert(t.payments).values(
            case_id=case_id,
            amount=str(amount),
            paid_on=paid_on,
            reference=reference,
            source=source,
            at=now,
        )
    )
    left = balance(conn, case_id, case)
    current = active(conn, case_id)
    settled: tuple[int, ...] = ()
    overpaid = Decimal(0)
    done = False
    notes = [f"{amount} {case.currency} paid on {paid_on} (reference {reference})"]
    if current is not None:
        settled, overpaid, done = _settle_instalments(conn, current, amount, now)
        notes += [f"instalment {n} settled" for n in settled]
        if overpaid:
            notes.append(f"{overpaid} {case.currency} beyond arrangement {current.id}")
    else:
        broken = [x for x in of_case(conn, case_id) if x.state is ArrangementState.BROKEN]
        if broken:
            notes.append(f"after arrangement {broken[-1].id} broke (it stays broken)")
    notes.append(f"balance {left} {case.currency}")
    if left < 0:
        notes.append(f"overpaid by {-left} {case.currency}")
    record(conn, case_id, "payment", "; ".join(notes), now, source)
    paid = left <= 0 and case.state not in (CaseState.PAID, CaseState.CLOSED)
    if current is not None and (paid or done):
        end(conn, current, ArrangementState.KEPT, "every instalment paid", now, source)
        if not paid:
            resume_ladder(conn, _case(conn, case_id), now)
    if paid:
        events.case_event(
            conn,
            case_id,
            "paid",
            CaseState.PAID,
            now=now,
            until=None,
            source=source,
            detail="the balance reached 0",
        )
    after = of_case(conn, case_id)
    shown = next((x for x in after if current and x.id == current.id), None)
    return PaymentResult(left, settled, overpaid, shown, case_paid=paid)


def cancel(conn: Connection, case_id: str, now: datetime, source: str, reason: str) -> Arrangement:
    case = _case(conn, case_id)
    current = active(conn, case_id)
    if current is None:
        raise ArrangementRefused(f"case {case_id} has no active arrangement")
    end(conn, current, ArrangementState.CANCELLED, reason, now, source)
    resume_ladder(conn, case, now)
    return next(x for x in of_case(conn, case_id) if x.id == current.id)


def break_overdue(
    conn: Connection, unpaid_before: datetime, now: datetime, on_broken: str | None
) -> list[BrokenArrangement]:
    a, i = t.arrangements.c, t.instalments.c
    due = conn.execute(
        select(a.id, a.case_id)
        .join(t.instalments, i.arrangement_id == a.id)
        .where(
            a.state == ArrangementState.ACTIVE.value,
            i.settled_at.is_(None),
            i.deadline <= unpaid_before,
        )
        .distinct()
        .order_by(a.id)
    ).all()
    broken = []
    for aid, case_id in due:
        case = _case(conn, case_id)
        current = active(conn, case_id)
        if current is None or current.id != aid:
            continue
        missed = next(
            x
            for x in current.instalments
            if not x.settled and x.deadline is not None and x.deadline <= unpaid_before
        )
        reason = (
            f"instalment {missed.number} of {len(current.instalments)} (due {missed.due}, "
            f"{missed.amount} {case.currency}) unpaid past its grace period: "
            f"{missed.paid} {case.currency} paid"
        )
        end(conn, current, ArrangementState.BROKEN, reason, now, "planner")
        if on_broken is None:
            resume_ladder(conn, case, now)
        else:
            move_to_schedule(conn, case, on_broken, now)
        broken.append(BrokenArrangement(case_id, aid, reason))
    return broken
