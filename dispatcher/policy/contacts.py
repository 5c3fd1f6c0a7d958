"""Which of the person's addresses a channel may use, honouring opt-outs and dead addresses.

Reg F §1006.6(e): an opt-out is honoured on that address or number; an opt-out without an
address covers the whole channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.model import ContactKind, ContactPoint, Person, Reason


@dataclass(frozen=True, slots=True)
class ContactChoice:
    contact: ContactPoint | None
    reason: Reason | None


def choose_contact(person: Person, channel: str, kind: ContactKind) -> ContactChoice:
    """The highest-priority usable contact point of ``kind``, or why there is none."""
    if not person.opt_outs:
        # The common case: no refusals on file, so the first usable address of the kind wins.
        usable = [c for c in person.contacts if c.kind == kind and c.status == "ok"]
        if len(usable) == 1:  # most people have one address of each kind
            return ContactChoice(usable[0], None)
        if usable:
            return ContactChoice(min(usable, key=lambda c: (c.priority, c.id)), None)
    if any(o.channel in (channel, "*") and o.contact is None for o in person.opt_outs):
        return ContactChoice(None, Reason("opt_out", f"the person opted out of {channel}"))
    opted = {o.contact for o in person.opt_outs if o.channel in (channel, "*") and o.contact}
    candidates = [c for c in person.contacts if c.kind == kind]
    if not candidates:
        return ContactChoice(None, Reason("no_contact", f"no {kind.value} contact on file"))
    usable = [c for c in candidates if c.status == "ok" and c.value not in opted]
    if usable:
        return ContactChoice(min(usable, key=lambda c: (c.priority, c.id)), None)
    if all(c.value in opted or c.status == "opted_out" for c in candidates):
        return ContactChoice(
            None, Reason("opt_out", f"every {kind.value} contact opted out of {channel}")
        )
    return ContactChoice(
        None, Reason("contact_invalid", f"every {kind.value} contact is marked undeliverable")
    )
