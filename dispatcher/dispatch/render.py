"""Rendering a claim: the variables its template sees (``render_context``) and the
``Message`` its channel sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dispatcher.channel import Message
from dispatcher.config.templates import TemplateSet
from dispatcher.links import LinkSigner
from dispatcher.store.api import Claim


def render_context(
    claim: Claim, signer: LinkSigner | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The template's variables; ``instalment`` on an arrangement's reminder, and
    ``self_service_url`` when the person's page is configured (``signer``): a template naming
    either without it fails, as any unknown name."""
    person, case, reminder = claim.person, claim.case, claim.reminder
    first_name = person.name.split()[0] if person.name.split() else person.name
    days_overdue = (reminder.due_at.date() - case.due_date).days
    context: dict[str, Any] = {
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
    if claim.instalment is not None:  # a reminder of an arrangement
        part = claim.instalment
        context["instalment"] = {
            "number": part.number,
            "of": claim.instalments,
            "due": part.due,
            "amount": str(part.amount),
            "paid": str(part.paid),
            "left": str(part.amount - part.paid),
        }
    if signer is not None and now is not None:
        context["self_service_url"] = signer.url(case.id, now)
    return context


def compose(
    claim: Claim,
    templates: TemplateSet,
    signer: LinkSigner | None = None,
    now: datetime | None = None,
) -> Message:
    """``claim``'s message, from its template in the person's locale; raises
    ``TemplateNotFound`` or a ``jinja2.TemplateError`` when it cannot be rendered."""
    reminder = claim.reminder
    rendered = templates.render(
        reminder.channel,
        reminder.template,
        claim.person.template_locale,
        render_context(claim, signer, now),
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
