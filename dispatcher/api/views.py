"""Domain objects as API responses; personal data masked unless the caller may see it."""

from __future__ import annotations

from dataclasses import asdict

from dispatcher.admin.explain import timeline, zone_note
from dispatcher.api.models import (
    ArrangementView,
    CaseDetail,
    CaseView,
    ContactView,
    HistoryEntry,
    InstalmentView,
    OptOutView,
    PersonView,
    ReminderView,
)
from dispatcher.model import Arrangement, Case, Person, Reminder, ReminderState
from dispatcher.privacy import mask, mask_contact, mask_name
from dispatcher.store.api import CaseHistory


def person_view(person: Person, *, personal_data: bool) -> PersonView:
    def shown(kind: str, value: str) -> str:
        return value if personal_data else mask(kind, value)

    return PersonView(
        id=person.id,
        name=person.name if personal_data else mask_name(person.name),
        locale=person.locale,
        timezone=person.timezone,
        contacts=[
            ContactView(
                kind=c.kind.value,
                value=shown(c.kind.value, c.value),
                status=c.status,
                priority=c.priority,
                line=c.line.value if c.line else None,
            )
            for c in person.contacts
        ],
        opt_outs=[
            OptOutView(
                channel=o.channel,
                contact=o.contact
                if personal_data or o.contact is None
                else mask_contact(o.contact),
            )
            for o in person.opt_outs
        ],
        masked=not personal_data,
    )


def case_view(case: Case) -> CaseView:
    fields = asdict(case)
    del fields["revision"]  # the store's change marker, not part of the case
    return CaseView(**fields)


def reminder_view(reminder: Reminder, last_reason: str | None) -> ReminderView:
    return ReminderView(**asdict(reminder), last_reason=last_reason)


def history_view(history: CaseHistory) -> list[HistoryEntry]:
    """The explain timeline; contact points in it are always masked (as in explain)."""
    return [
        HistoryEntry(at=at, reminder_id=reminder_id, what=what, detail=detail)
        for at, reminder_id, what, detail in timeline(history)
    ]


def case_detail(history: CaseHistory, fallback_timezone: str, *, personal_data: bool) -> CaseDetail:
    """A case with its person, reminders (those still to come first) and history: what
    ``GET /v1/cases/{id}`` and ``dispatcher explain --json`` answer."""
    reminders = [reminder_view(r, history.reminder_reasons.get(r.id)) for r in history.reminders]
    waiting = (ReminderState.PENDING, ReminderState.CLAIMED)
    upcoming = sorted((r for r in reminders if r.state in waiting), key=lambda r: (r.due_at, r.id))
    return CaseDetail(
        case=case_view(history.case),
        person=person_view(history.person, personal_data=personal_data),
        time_zone=zone_note(history, fallback_timezone),
        upcoming=upcoming,
        reminders=reminders,
        arrangements=[arrangement_view(a) for a in history.arrangements],
        history=history_view(history),
    )


def arrangement_view(arrangement: Arrangement) -> ArrangementView:
    return ArrangementView(
        id=arrangement.id,
        kind=arrangement.kind,
        state=arrangement.state.value,
        created_at=arrangement.created_at,
        reason=arrangement.reason,
        instalments=[
            InstalmentView(
                number=i.number,
                due=i.due,
                amount=str(i.amount),
                paid=str(i.paid),
                settled=i.settled,
            )
            for i in arrangement.instalments
        ],
    )
