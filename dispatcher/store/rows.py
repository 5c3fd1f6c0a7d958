"""Rows into domain objects: cases, reminders, people with their contact points and opt-outs,
and a person's attempt history, read by id in chunks that fit any dialect's IN list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select

from dispatcher.model import (
    NO_WISHES,
    Attempt,
    BreathingSpace,
    Case,
    CaseState,
    Consent,
    ContactKind,
    ContactPoint,
    OptOut,
    Outcome,
    Person,
    PhoneLine,
    Reminder,
    ReminderState,
)
from dispatcher.store import schema as t
from dispatcher.store.bulk import converters, rows_in
from dispatcher.store.wishes import WISH_COLUMNS, wishes_of

CHUNK = 500  # ids per IN (...) list; far below every dialect's bound-parameter limit

# Stored values to enum members by lookup: calling the enum costs a few times more, per row.
CONTACT_KINDS = {kind.value: kind for kind in ContactKind}
OUTCOMES = {outcome.value: outcome for outcome in Outcome}
REMINDER_STATES = {state.value: state for state in ReminderState}
CASE_STATES = {state.value: state for state in CaseState}

# The columns each domain object is built from: reading only these spares the claim path
# converting instants it never uses (a datetime read back is parsed per value on SQLite).
CASE_COLUMNS = tuple(
    t.cases.c[name]
    for name in (
        "id",
        "person_id",
        "amount",
        "currency",
        "due_date",
        "state",
        "schedule",
        "paused_until",
        "updated_at",
        "breathing_space",
        "breathing_space_start",
        "breathing_space_until",
    )
)
REMINDER_COLUMNS = tuple(
    t.reminders.c[name]
    for name in (
        "id",
        "case_id",
        "person_id",
        "schedule",
        "step",
        "channel",
        "template",
        "due_at",
        "original_due_at",
        "state",
        "tries",
    )
)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def case_from_row(row: Any) -> Case:
    return Case(
        id=row.id,
        person_id=row.person_id,
        amount=row.amount,
        currency=row.currency,
        due_date=row.due_date,
        state=CASE_STATES[row.state],
        schedule=row.schedule,
        paused_until=row.paused_until,
        revision=row.updated_at,
        breathing_space=breathing_space_of(
            row.breathing_space, row.breathing_space_start, row.breathing_space_until
        ),
    )


def breathing_space_of(
    kind: str | None, start: datetime | None, until: datetime | None
) -> BreathingSpace | None:
    """A case's moratorium from its stored columns (None: there is none)."""
    if kind is None or start is None:
        return None
    return BreathingSpace(start, until, kind == "crisis")


def reminder_from_row(row: Any) -> Reminder:
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
        state=REMINDER_STATES[row.state],
        tries=row.tries,
    )


_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_LINES: dict[str | None, PhoneLine] = {line.value: line for line in PhoneLine}  # NULL: None
_P, _CP, _OO, _A = t.people.c, t.contact_points.c, t.opt_outs.c, t.attempts.c
# The statements the claim path reads people, cases and histories with (``bulk.rows_in``).
PEOPLE = select(_P.id, _P.name, _P.locale, _P.timezone, _P.updated_at).where(_P.id.in_(_IDS))
CONTACTS = select(
    _CP.id, _CP.person_id, _CP.kind, _CP.value, _CP.status, _CP.priority, _CP.line
).where(_CP.person_id.in_(_IDS))
OPT_OUTS = select(_OO.person_id, _OO.channel, _OO.contact).where(
    _OO.person_id.in_(_IDS), _OO.cleared_at.is_(None)
)
CONSENTS = select(t.consents.c.person_id, t.consents.c.channel, t.consents.c.contact).where(
    t.consents.c.person_id.in_(_IDS), t.consents.c.revoked_at.is_(None)
)
# Oldest first: the last row read for a person is the one in force.
WISHES = (
    select(t.wishes.c.person_id, *WISH_COLUMNS)
    .where(t.wishes.c.person_id.in_(_IDS))
    .order_by(t.wishes.c.id)
)
CASES = select(*CASE_COLUMNS).where(t.cases.c.id.in_(_IDS))
HISTORY = select(
    _A.id,
    _A.reminder_id,
    _A.person_id,
    _A.case_id,
    _A.channel,
    _A.contact,
    _A.at,
    _A.outcome,
    _A.counted,
).where(
    _A.person_id.in_(_IDS),
    _A.at > bindparam("since", type_=t.UTCDateTime),
    _A.outcome != Outcome.RELEASED.value,
)


def people_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Person]:
    ids = list(ids)
    contacts: dict[str, list[ContactPoint]] = defaultdict(list)
    outs: dict[str, list[OptOut]] = defaultdict(list)
    consents: dict[str, list[Consent]] = defaultdict(list)
    for point_id, person_id, kind, value, status, priority, line in rows_in(
        conn, CONTACTS, "ids", ids
    ):
        contacts[person_id].append(
            ContactPoint(point_id, CONTACT_KINDS[kind], value, status, priority, _LINES.get(line))
        )
    for person_id, channel, contact in rows_in(conn, OPT_OUTS, "ids", ids):
        outs[person_id].append(OptOut(channel, contact))
    for person_id, channel, contact in rows_in(conn, CONSENTS, "ids", ids):
        consents[person_id].append(Consent(channel, contact))
    wished = {pid: wishes_of(*row) for pid, *row in rows_in(conn, WISHES, "ids", ids)}
    return {
        pid: Person(
            id=pid,
            name=name,
            locale=locale,
            timezone=timezone,
            contacts=tuple(contacts.get(pid, ())),
            opt_outs=tuple(outs.get(pid, ())),
            consents=tuple(consents.get(pid, ())),
            wishes=wished.get(pid, NO_WISHES),
            revision=updated_at,
        )
        for pid, name, locale, timezone, updated_at in rows_in(conn, PEOPLE, "ids", ids)
    }


def cases_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Case]:
    out: dict[str, Case] = {}
    for row in rows_in(conn, CASES, "ids", list(ids)):
        cid, pid, amount, currency, due, state, schedule, paused, updated, *space = row
        out[cid] = Case(
            cid,
            pid,
            amount,
            currency,
            due,
            CASE_STATES[state],
            schedule,
            paused,
            updated,
            breathing_space_of(*space),
        )
    return out


def history_by_person(
    conn: Connection, person_ids: Sequence[str], since: datetime
) -> dict[str, list[Attempt]]:
    out: dict[str, list[Attempt]] = defaultdict(list)
    # Converted here, in the one pass over the rows: a person has up to hundreds.
    instant = converters(conn, HISTORY, "ids")[6] or (lambda value: value)
    rows = rows_in(conn, HISTORY, "ids", list(person_ids), {"since": since}, raw=True)
    for aid, reminder_id, person_id, case_id, channel, contact, at, outcome, counted in rows:
        out[person_id].append(
            Attempt(
                aid,
                reminder_id,
                person_id,
                case_id,
                channel,
                contact,
                instant(at),
                OUTCOMES[outcome],
                bool(counted),
            )
        )
    return out
