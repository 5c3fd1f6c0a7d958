"""Rendering a claim: the variables its template sees (``render_context``) and the
``Message`` its channel sends."""

from __future__ import annotations

from typing import Any

from dispatcher.channel import Message
from dispatcher.config.templates import TemplateSet
from dispatcher.store.api import Claim


def render_context(claim: Claim) -> dict[str, Any]:
    person, case, reminder = claim.person, claim.case, claim.reminder
    first_name = person.name.split()[0] if person.name.split() else person.name
    days_overdue = (reminder.due_at.date() - case.due_date).days
    return {
        "person": {
            "id": person.id,
            "name": person.name,
            "first_name": first_name,
            "locale": person.template_locale,
        },
        "case": {
            "id": case.id,
            "amount": case.amount,
            "currency": case.currency,
            "due_date": case.due_date,
            "days_overdue": max(days_overdue, 0),
        },
        "reminder": {
            "id": reminder.id,
            "step": reminder.step,
            "channel": reminder.channel,
            "schedule": reminder.schedule,
        },
    }


def compose(claim: Claim, templates: TemplateSet) -> Message:
    """``claim``'s message, from its template in the person's locale; raises
    ``TemplateNotFound`` or a ``jinja2.TemplateError`` when it cannot be rendered."""
    reminder = claim.reminder
    rendered = templates.render(
        reminder.channel, reminder.template, claim.person.template_locale, render_context(claim)
    )
    return Message(
        attempt_id=claim.attempt_id,
        reminder_id=reminder.id,
        case_id=reminder.case_id,
        person_id=reminder.person_id,
        channel=reminder.channel,
        contact_kind=claim.contact.kind,
        contact=claim.contact.value,
        locale=rendered.locale,
        template=reminder.template,
        body=rendered.body,
        subject=rendered.subject,
        meta=rendered.meta,
        html=rendered.html,
    )
