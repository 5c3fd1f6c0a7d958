"""Provider events already seen, and the order of consent changes: what makes every webhook
idempotent and ordered.

A provider may post one event twice (its own retries, a proxy's, an attacker replaying a
signed request): the event's id (Twilio's ``MessageSid``; a status callback's sid and status)
is recorded in ``inbound_events`` in the transaction that applies it, and an id seen before
changes nothing. Rows are kept for a bounded time (``keep_until``): long for what changes
consent, short for delivery reports, which only move an attempt forward anyway.

An opt-out and an opt-in of one address on one channel are applied in the provider's order:
``consent_order`` keeps the order stamp of the last one applied (the provider's timestamp when
it gives one, else the instant the request reached us), and an older one is recorded as seen
but never undoes the newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from dispatcher.store import schema as t
from dispatcher.store.dialect import Dialect

# A STOP must not be undone by its START replayed months later: consent events are kept
# well past any provider retry, for as long as a signed request plausibly circulates.
CONSENT_KEPT = timedelta(days=400)
# Delivery reports only move an attempt's outcome forward: kept past Twilio's retries.
REPORT_KEPT = timedelta(days=14)


@dataclass(frozen=True)
class InboundEvent:
    """One provider event: where it came from (``twilio-sms:<channel>``), the provider's id
    for it, and its order stamp (the provider's timestamp, or None: the time it reached us)."""

    source: str
    event_id: str
    at: datetime | None = None
    kept: timedelta = CONSENT_KEPT


def first_sighting(conn: Connection, dialect: Dialect, event: InboundEvent, now: datetime) -> bool:
    """Record ``event``; True when its id was not seen before. Rows past their keeping time
    go first (an index range, usually empty)."""
    e = t.inbound_events.c
    conn.execute(delete(t.inbound_events).where(e.keep_until < now))
    # RETURNING, not the row count: psycopg reports -1 for an insert that did nothing.
    inserted = conn.execute(
        dialect.insert_ignore(t.inbound_events)
        .values(
            source=event.source[:64],
            event_id=event.event_id[:128],
            received_at=now,
            keep_until=now + event.kept,
        )
        .returning(e.source)
    ).first()
    return inserted is not None


def in_order(conn: Connection, dialect: Dialect, channel: str, contact: str, at: datetime) -> bool:
    """Whether a consent change of ``contact`` on ``channel`` stamped ``at`` is not older
    than the last one applied; if so it becomes the last one. Equal stamps keep the order of
    arrival."""
    c = t.consent_order.c
    last = conn.execute(
        select(c.at).where(c.channel == channel, c.contact == contact)
    ).scalar_one_or_none()
    if last is not None and at < last:
        return False
    dialect.insert_or_update(
        conn, t.consent_order, {"channel": channel, "contact": contact}, {"at": at}
    )
    return True
