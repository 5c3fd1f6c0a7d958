"""Consent per contact point and channel: given, and revoked. Each change changes the
person's revision, so a claim taken before it is checked again before sending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from dispatcher.store import schema as t
from dispatcher.store.api import PersonIn
from dispatcher.store.opt_outs import touch_person


def consent(
    conn: Connection,
    person_id: str,
    channel: str,
    contact: str | None,
    now: datetime,
    source: str,
    revoke: bool,
    detail: str | None = None,
) -> None:
    """Record the person's consent to ``channel`` on ``contact`` (None = every contact
    point), or with ``revoke`` end it (a consent for every contact point ends too: a
    revocation on one medium is never read as leaving the others' general consent)."""
    if conn.execute(select(t.people.c.id).where(t.people.c.id == person_id)).first() is None:
        raise LookupError(f"no person {person_id!r}")
    k = t.consents.c
    active = (k.person_id == person_id, k.channel == channel, k.revoked_at.is_(None))
    if revoke:
        scope = (
            k.contact.is_(None) if contact is None else (k.contact == contact) | k.contact.is_(None)
        )
        conn.execute(
            update(t.consents).where(*active, scope).values(revoked_at=now, revoked_by=source)
        )
    else:
        match = k.contact.is_(None) if contact is None else k.contact == contact
        if conn.execute(select(k.id).where(*active, match)).first() is not None:
            return
        conn.execute(
            insert(t.consents).values(
                person_id=person_id,
                channel=channel,
                contact=contact,
                source=source,
                detail=detail,
                given_at=now,
            )
        )
    touch_person(conn, person_id, now)


def imported_consents(conn: Connection, people: Sequence[PersonIn], now: datetime) -> None:
    """The consents an import row gives, for those not on file yet. A consent once revoked
    is not given again by a later import of the same file: only an explicit event does."""
    k = t.consents.c
    for person in people:
        for channel, contact in person.consents:
            match = k.contact.is_(None) if contact is None else k.contact == contact
            seen = select(k.id).where(k.person_id == person.id, k.channel == channel, match)
            if conn.execute(seen).first() is None:
                consent(conn, person.id, channel, contact, now, "import", revoke=False)
