"""The message the contract suite sends: fictional, but personal data all the same, so the
suite can tell when a channel lets any of it into a log record or an error message."""

from __future__ import annotations

import itertools

from dispatcher.channel import Message
from dispatcher.model import ContactKind

PERSON_NAME = "Zelda Quintanilla"
CONTACTS = {
    # NANP 555-01XX is set aside for fiction; example.org for documentation.
    ContactKind.PHONE: "+12025550187",
    ContactKind.EMAIL: "zelda.quintanilla@example.org",
    ContactKind.POSTAL: "17 Quarry Lane, Flat 4, Exampleton EX1 2MP",
}
_numbers = itertools.count(1)


def sample_message(kind: ContactKind, **overrides: object) -> Message:
    """A rendered reminder to the sample person at her address of ``kind``; every call gets a
    new attempt id (a channel may use it as an idempotency key)."""
    kind = ContactKind(kind)
    number = next(_numbers)
    fields: dict[str, object] = {
        "attempt_id": f"contract-{number:04d}",
        "reminder_id": number,
        "case_id": "C-CONTRACT-1",
        "person_id": "P-CONTRACT-1",
        "channel": "contract",
        "contact_kind": kind,
        "contact": CONTACTS[kind],
        "locale": "en",
        "template": "first_notice",
        "subject": "Your payment is overdue",
        "body": f"Dear {PERSON_NAME}, the payment of USD 120.00 due on 2026-11-01 is overdue.",
    }
    fields.update(overrides)
    return Message(**fields)  # type: ignore[arg-type]


def personal_data(message: Message) -> list[str]:
    """Strings from ``message`` that must never reach a log or an error: the address (and
    for a phone number its bare digits), the person's name and the body."""
    found = [message.contact, message.body]
    if message.contact_kind is ContactKind.PHONE:
        found.append("".join(c for c in message.contact if c.isdigit()))
    if message.contact_kind is ContactKind.POSTAL:
        found.append(message.contact.split(",")[0])
    if PERSON_NAME in message.body:
        found += [PERSON_NAME, PERSON_NAME.split()[-1]]
    return [text for text in found if text]
