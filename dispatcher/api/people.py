"""``PUT /v1/people/{person_id}``: a person created or updated from the API."""

from __future__ import annotations

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import PersonBody, PersonResult, PhoneBody
from dispatcher.api.problems import intake_field_errors, invalid
from dispatcher.api.views import person_view
from dispatcher.intake import parse_person
from dispatcher.store.api import PersonIn


async def put_person(call: Call) -> Answer:
    person_id = call.path_id("person_id")
    body: PersonBody = call.body
    core = call.core
    config = core.runtime.config.dispatcher
    parsed = parse_person(
        {
            "person_id": person_id,
            "name": body.name,
            "locale": body.locale,
            "timezone": body.timezone,
            "phone": [_phone_text(phone) for phone in body.phones],
            "email": body.emails,
            "address": body.addresses,
        },
        default_locale=config.fallback_locale,
        default_region=None,
    )
    if not isinstance(parsed, PersonIn):
        raise invalid(intake_field_errors(parsed))
    existed = await core.call(core.store.get_person, person_id) is not None
    await core.call(core.store.upsert, [parsed], [], core.clock())
    core.changed(person_id=person_id)
    person = await core.call(core.store.get_person, person_id)
    assert person is not None
    view = person_view(person, personal_data=call.caller.sees_personal_data)
    return (200 if existed else 201), PersonResult(person=view, created=not existed)


def _phone_text(phone: str | PhoneBody) -> str:
    """A number as the intake rows write it: ``work:+16175550123`` when its line is given."""
    if isinstance(phone, str):
        return phone
    return f"{phone.line}:{phone.number}" if phone.line else phone.number
