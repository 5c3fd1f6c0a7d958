"""Channels that may reach a person only with their consent on file for the contact point.

6 RCNY 5-77 as amended (New York City, from published summaries): consent before contact by
email or text message, revoked per medium. A channel a rule names in ``consent_required``
uses only a contact point the person consented to on that channel (a consent without a
contact point covers every one); with none, the reminder is suppressed ``consent_required``.
"""

from __future__ import annotations

from dataclasses import replace

from dispatcher.model import ContactKind, Person, Reason
from dispatcher.policy.contacts import ContactChoice, choose_contact


def consented_contact(
    person: Person, channel: str, kind: ContactKind, choice: ContactChoice
) -> ContactChoice:
    """``choice`` when the person consented to ``channel`` on it, else the best usable
    contact point with consent, else why there is none."""
    given = [c for c in person.consents if c.channel == channel]
    if any(c.contact is None for c in given):
        return choice
    allowed = {c.contact for c in given}
    if choice.contact is not None and choice.contact.value in allowed:
        return choice
    consented = tuple(c for c in person.contacts if c.value in allowed)
    found = (
        choose_contact(replace(person, contacts=consented), channel, kind) if consented else None
    )
    if found is not None and found.contact is not None:
        return found
    text = f"no consent on file for {channel} to this person's {kind.value} contacts"
    return ContactChoice(None, Reason("consent_required", text))
