"""``POST /v1/cases/{case_id}/events``: what happened to a case or its person (paid, a dispute, a
payment plan, an opt-out …), applied before its next claim."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import phonenumbers

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import (
    BreathingSpaceEvent,
    ConsentEvent,
    EventResult,
    OptOutEvent,
    PauseEvent,
)
from dispatcher.api.problems import ApiProblem, FieldError, invalid
from dispatcher.api.views import case_view
from dispatcher.policy.breathing_space import moratorium_end
from dispatcher.policy.zones import local_zone
from dispatcher.store.api import UnknownCase
from dispatcher.store.events import pause_problem

log = logging.getLogger("dispatcher.api")


def _local_instant(value: date | datetime, zone: str, field: str = "until") -> datetime:
    """A date is midnight in ``zone``; a date-time without offset is in ``zone``."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is after the last instant there is
        raise invalid([FieldError(field, "out of the range of instants")]) from None


def _opt_out_contact(value: str | None) -> str | None:
    """Phone numbers as the store keeps them (E.164), so the opt-out matches the contact."""
    if value is None or not value.strip().startswith("+"):
        return value
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise invalid([FieldError("contact", "not a valid phone number (use E.164)")])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _known_channel(event: OptOutEvent | ConsentEvent, channels: list[str]) -> None:
    """An opt-out may name every channel (``*``); a consent names one."""
    known = ["*", *channels] if isinstance(event, OptOutEvent) else channels
    if event.channel not in known:
        raise invalid(
            [
                FieldError(
                    "channel", f"unknown channel {event.channel!r} (known: {', '.join(known)})"
                )
            ]
        )


async def post_event(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    event = call.body.root
    core = call.core
    store = core.store
    runtime = core.runtime
    case = await core.call(store.get_case, case_id)
    if case is None:
        raise ApiProblem(404, "Not found", f"no case {case_id!r}")
    source = f"api:{call.caller.name}"
    now = core.clock()
    if isinstance(event, OptOutEvent | ConsentEvent):
        _known_channel(event, list(runtime.config.dispatcher.channels))
    if isinstance(event, ConsentEvent):
        await core.call(
            store.consent,
            case.person_id,
            event.channel,
            _opt_out_contact(event.contact),
            now=now,
            source=source,
            revoke=event.kind == "consent-revoked",
            detail=event.note,
        )
    elif isinstance(event, OptOutEvent):
        await core.call(
            store.opt_out,
            case.person_id,
            event.channel,
            _opt_out_contact(event.contact),
            now=now,
            source=source,
            clear=event.kind == "opt-in",
        )
    else:
        until = None
        kind: str = event.kind
        if isinstance(event, PauseEvent | BreathingSpaceEvent):
            person = await core.call(store.get_person, case.person_id)
            zone = local_zone(person, runtime.config.dispatcher.fallback_timezone)
            until = None if event.until is None else _local_instant(event.until, zone)
        if isinstance(event, BreathingSpaceEvent):
            until = _moratorium_end(event, until, zone, now)
            kind = "breathing-space-crisis" if event.mental_health_crisis else kind
        elif event.kind == "breathing-space-end" and case.breathing_space is None:
            raise ApiProblem(409, "Conflict", f"case {case_id!r} has no breathing space to end")
        if until is not None:
            problem = pause_problem(until, now)
            if problem:
                crisis = isinstance(event, BreathingSpaceEvent) and event.mental_health_crisis
                where = "crisis_ends" if crisis else "until"
                raise invalid([FieldError(where, problem)])
        try:
            case = await core.call(
                store.case_event,
                case_id,
                kind,
                now=now,
                until=until,
                source=source,
                detail=event.note,
            )
        except UnknownCase:
            raise ApiProblem(404, "Not found", f"no case {case_id!r}") from None
        except ValueError as exc:  # a moratorium ended meanwhile: nothing left to end
            raise ApiProblem(409, "Conflict", str(exc)) from None
    # A claim of this case not yet sent is checked again, and the loop claims again at once:
    # the event applies before the next send.
    core.changed(case_id=case_id, person_id=case.person_id)
    log.info(
        "api event",
        extra={"fields": {"case": case_id, "event": event.kind, "token": call.caller.name}},
    )
    return 200, EventResult(case=case_view(case), event=event.kind)


def _moratorium_end(
    event: BreathingSpaceEvent, until: datetime | None, zone: str, now: datetime
) -> datetime | None:
    """The end of the moratorium ``event`` starts (or records), from now."""
    field = "crisis_ends" if event.mental_health_crisis else "until"
    crisis_ends = None
    if event.crisis_ends is not None:
        crisis_ends = _local_instant(event.crisis_ends, zone, "crisis_ends")
    try:
        return moratorium_end(
            now, until=until, crisis=event.mental_health_crisis, crisis_ends=crisis_ends
        )
    except ValueError as exc:
        raise invalid([FieldError(field, str(exc))]) from None
