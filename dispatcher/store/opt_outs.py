"""Opt-outs and the status of contact points: the changes to what may be sent to a person.
Each one changes the person's revision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from dispatcher.model import ContactKind
from dispatcher.store import schema as t


def touch_person(conn: Connection, person_id: str, now: datetime) -> None:
    """A change to what may be sent to a person (opt-out, contact status) changes the
    person's revision, so a claim taken before it is checked again before sending."""
    conn.execute(update(t.people).where(t.people.c.id == person_id).values(updated_at=now))


def mark_contact(
    conn: Connection,
    person_id: str,
    kind: str,
    value: str,
    status: str,
    reason: str | None,
    now: datetime,
) -> None:
    conn.execute(
        update(t.contact_points)
        .where(
            t.contact_points.c.person_id == person_id,
            t.contact_points.c.kind == kind,
            t.contact_points.c.value == value,
        )
        .values(status=status, status_reason=reason, updated_at=now)
    )
    touch_person(conn, person_id, now)


def add_opt_out(
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
        touch_person(conn, person_id, now)
        conn.execute(
            insert(t.opt_outs).values(
                person_id=person_id,
                channel=channel,
                contact=contact,
                source=source,
                created_at=now,
            )
        )


def clear_opt_out(
    conn: Connection, person_id: str, channel: str, contact: str | None, now: datetime
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
    touch_person(conn, person_id, now)


def opt_out(
    conn: Connection,
    person_id: str,
    channel: str,
    contact: str | None,
    now: datetime,
    source: str,
    clear: bool,
) -> None:
    if conn.execute(select(t.people.c.id).where(t.people.c.id == person_id)).first() is None:
        raise LookupError(f"no person {person_id!r}")
    if clear:
        clear_opt_out(conn, person_id, channel, contact, now)
    else:
        add_opt_out(conn, person_id, channel, contact, now, source)


def opt_out_contact(
    conn: Connection,
    kind: ContactKind,
    value: str,
    channel: str,
    now: datetime,
    source: str,
    clear: bool,
) -> list[str]:
    c = t.contact_points.c
    people = sorted(
        set(
            conn.execute(
                select(c.person_id).where(c.kind == kind.value, c.value == value)
            ).scalars()
        )
    )
    for person_id in people:
        if clear:
            clear_opt_out(conn, person_id, channel, value, now)
        else:
            add_opt_out(conn, person_id, channel, value, now, source)
    return people
