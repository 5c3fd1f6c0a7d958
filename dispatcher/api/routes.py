"""The ``/v1/`` routes: people and cases in, events in, cases and reminders out.

Every operation is declared once in ``OPERATIONS`` (method, path, scope, bodies); the router
and the OpenAPI document are both built from that list. Handlers touch the store only through
``core.call`` (the daemon's store thread) and read the config per request, since a reload
may have changed it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from aiohttp import web
from aiohttp.typedefs import Handler as WebHandler
from pydantic import BaseModel, ValidationError

from dispatcher.admin.explain import zone_note
from dispatcher.api.auth import Caller, TokenBooks, authenticate
from dispatcher.api.models import (
    ID_PATTERN,
    BatchBody,
    BatchResult,
    CaseBody,
    CaseDetail,
    CaseResult,
    EventBody,
    EventResult,
    FieldErrorView,
    OptOutEvent,
    PauseEvent,
    PersonBody,
    PersonResult,
    ReminderPage,
    ReminderQuery,
    RowResult,
)
from dispatcher.api.problems import (
    PROBLEM_TYPE,
    ApiProblem,
    FieldError,
    field_errors,
    invalid,
)
from dispatcher.api.views import case_view, history_view, person_view, reminder_view
from dispatcher.intake import RowError, parse_case, parse_person, parse_row
from dispatcher.model import ReminderState
from dispatcher.services import CoreAccess
from dispatcher.store.api import CaseIn, PersonIn, UnknownCase

log = logging.getLogger("dispatcher.api")

# intake's field names → the API's.
_API_FIELDS = {"phone": "phones", "email": "emails", "address": "addresses"}
_ID = re.compile(ID_PATTERN)


@dataclass
class Call:
    """One authenticated request, its body and query validated."""

    request: web.Request
    core: CoreAccess
    caller: Caller
    body: Any
    query: Any

    def path_id(self, name: str) -> str:
        value = self.request.match_info[name]
        if not _ID.match(value):
            raise invalid(
                [FieldError(name, f"not an id (letters, digits, . _ : -; got {value!r})")]
            )
        return value


Answer = tuple[int, BaseModel]
Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under /v1
    handler: Handler
    scope: str
    summary: str
    responses: dict[int, type[BaseModel]]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    finds: bool = False  # answers 404 for an unknown case or person


def _problem_fields(errors: list[RowError], prefix: str = "") -> list[FieldError]:
    return [FieldError(prefix + _API_FIELDS.get(e.field, e.field), e.message) for e in errors]


def _local_instant(value: date | datetime, zone: str) -> datetime:
    """A date is midnight in ``zone``; a date-time without offset is in ``zone``."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


# -- handlers ----------------------------------------------------------------------------------


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
            "phone": body.phones,
            "email": body.emails,
            "address": body.addresses,
        },
        default_locale=config.fallback_locale,
        default_region=None,
    )
    if not isinstance(parsed, PersonIn):
        raise invalid(_problem_fields(parsed))
    existed = await core.call(core.store.get_person, person_id) is not None
    await core.call(core.store.upsert, [parsed], [], core.clock())
    core.changed(person_id=person_id)
    person = await core.call(core.store.get_person, person_id)
    assert person is not None
    view = person_view(person, personal_data=call.caller.sees_personal_data)
    return (200 if existed else 201), PersonResult(person=view, created=not existed)


async def put_case(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    body: CaseBody = call.body
    core = call.core
    if await core.call(core.store.get_person, body.person_id) is None:
        raise invalid(
            [FieldError("person_id", f"no person {body.person_id!r}: PUT /v1/people/… first")]
        )
    parsed = parse_case(
        {
            "case_id": case_id,
            "person_id": body.person_id,
            "amount": body.amount,
            "currency": body.currency,
            "due_date": body.due_date.isoformat(),
            "schedule": body.schedule,
        },
        schedules=list(core.runtime.config.schedules.schedules),
    )
    if not isinstance(parsed, CaseIn):
        raise invalid(_problem_fields(parsed))
    existing = await core.call(core.store.get_case, case_id)
    if existing is not None and existing.person_id != body.person_id:
        raise invalid([FieldError("person_id", f"case {case_id!r} belongs to another person")])
    await core.call(core.store.upsert, [], [parsed], core.clock())
    core.changed(case_id=case_id)
    case = await core.call(core.store.get_case, case_id)
    assert case is not None
    return (200 if existing else 201), CaseResult(case=case_view(case), created=not existing)


async def post_batch(call: Call) -> Answer:
    body: BatchBody = call.body
    core = call.core
    runtime = core.runtime
    limit = runtime.config.dispatcher.api.max_batch
    if len(body.rows) > limit:
        raise invalid(
            [FieldError("rows", f"at most {limit} rows per batch (got {len(body.rows)})")]
        )
    schedules = list(runtime.config.schedules.schedules)
    people: dict[str, PersonIn] = {}
    cases: list[CaseIn] = []
    seen: dict[str, int] = {}
    results: list[RowResult] = []
    for index, row in enumerate(body.rows):
        parsed = parse_row(
            index,
            row,
            schedules=schedules,
            default_schedule=None,
            default_locale=runtime.config.dispatcher.fallback_locale,
            default_region=None,
        )
        case_id = str(row.get("case_id") or "") or None
        errors: list[RowError] = parsed if isinstance(parsed, list) else []
        if not isinstance(parsed, list):
            if parsed.case.id in seen:
                errors = [
                    RowError(index, "case_id", f"case already given in row {seen[parsed.case.id]}")
                ]
            else:
                seen[parsed.case.id] = index
                people[parsed.person.id] = parsed.person
                cases.append(parsed.case)
        results.append(
            RowResult(
                index=index,
                case_id=case_id,
                accepted=not errors,
                errors=[FieldErrorView(field=e.field, message=e.message) for e in errors],
            )
        )
    if cases:
        await core.call(core.store.upsert, list(people.values()), cases, core.clock())
        for case in cases:  # a claim of theirs waiting to send is checked again
            core.changed(case_id=case.id, person_id=case.person_id)
    accepted = sum(r.accepted for r in results)
    return 200, BatchResult(accepted=accepted, rejected=len(results) - accepted, rows=results)


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
    if isinstance(event, OptOutEvent):
        if event.channel != "*" and event.channel not in runtime.config.dispatcher.channels:
            known = ", ".join(["*", *runtime.config.dispatcher.channels])
            raise invalid(
                [FieldError("channel", f"unknown channel {event.channel!r} (known: {known})")]
            )
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
        if isinstance(event, PauseEvent):
            person = await core.call(store.get_person, case.person_id)
            zone = (
                person.timezone if person else None
            ) or runtime.config.dispatcher.fallback_timezone
            until = _local_instant(event.until, zone)
            if until <= now:
                raise invalid([FieldError("until", "must be in the future")])
        try:
            case = await core.call(
                store.case_event,
                case_id,
                event.kind,
                now=now,
                until=until,
                source=source,
                detail=event.note,
            )
        except UnknownCase:
            raise ApiProblem(404, "Not found", f"no case {case_id!r}") from None
    # A claim of this case not yet sent is checked again, and the loop claims again at once:
    # the event applies before the next send.
    core.changed(case_id=case_id, person_id=case.person_id)
    log.info(
        "api event",
        extra={"fields": {"case": case_id, "event": event.kind, "token": call.caller.name}},
    )
    return 200, EventResult(case=case_view(case), event=event.kind)


async def get_case(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    core = call.core
    try:
        history = await core.call(core.store.case_history, case_id)
    except UnknownCase:
        raise ApiProblem(404, "Not found", f"no case {case_id!r}") from None
    reminders = [reminder_view(r, history.reminder_reasons.get(r.id)) for r in history.reminders]
    waiting = (ReminderState.PENDING, ReminderState.CLAIMED)
    upcoming = sorted((r for r in reminders if r.state in waiting), key=lambda r: (r.due_at, r.id))
    return 200, CaseDetail(
        case=case_view(history.case),
        person=person_view(history.person, personal_data=call.caller.sees_personal_data),
        time_zone=zone_note(history, core.runtime.config.dispatcher.fallback_timezone),
        upcoming=upcoming,
        reminders=reminders,
        history=history_view(history),
    )


async def list_reminders(call: Call) -> Answer:
    query: ReminderQuery = call.query
    core = call.core
    rows = await core.call(
        core.store.list_reminders,
        query.state.value if query.state else None,
        query.channel,
        query.after,
        query.limit,
    )
    items = [reminder_view(row.reminder, row.last_reason) for row in rows]
    next_after = items[-1].id if len(items) == query.limit else None
    return 200, ReminderPage(items=items, next_after=next_after)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "PUT",
        "/people/{person_id}",
        put_person,
        "write",
        "Create or update a person (contact points given are added; existing ones keep "
        "their status)",
        {200: PersonResult, 201: PersonResult},
        body=PersonBody,
    ),
    Operation(
        "PUT",
        "/cases/{case_id}",
        put_case,
        "write",
        "Create or update a case of an existing person (its state changes only by events)",
        {200: CaseResult, 201: CaseResult},
        body=CaseBody,
    ),
    Operation(
        "POST",
        "/cases:batch",
        post_batch,
        "write",
        "Create or update many people and cases; each row is validated alone",
        {200: BatchResult},
        body=BatchBody,
    ),
    Operation(
        "POST",
        "/cases/{case_id}/events",
        post_event,
        "write",
        "Record an event of a case; it applies before the next claim",
        {200: EventResult},
        body=EventBody,
        finds=True,
    ),
    Operation(
        "GET",
        "/cases/{case_id}",
        get_case,
        "read",
        "A case: state, upcoming reminders and its whole decision history",
        {200: CaseDetail},
        finds=True,
    ),
    Operation(
        "GET",
        "/reminders",
        list_reminders,
        "read",
        "Reminders by state and channel, in id order, a page at a time",
        {200: ReminderPage},
        query=ReminderQuery,
    ),
)


# -- the request pipeline ----------------------------------------------------------------------


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before reading it all when
    Content-Length says so)."""
    too_large = ApiProblem(413, "Payload too large", f"the body may have at most {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _validated(model: type[BaseModel] | None, data: Any) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def _parsed_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "Bad request", "the body is not valid JSON") from None


def _query(request: web.Request) -> dict[str, str]:
    repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
    if repeated:
        raise invalid([FieldError(k, "given more than once") for k in repeated])
    return dict(request.query)


@dataclass(frozen=True)
class _Reply:
    status: int
    text: str

    def response(self, **headers: str) -> web.Response:
        kind = PROBLEM_TYPE if self.status >= 400 else "application/json"
        return web.Response(status=self.status, text=self.text, content_type=kind, headers=headers)


def endpoint(operation: Operation, core: CoreAccess, books: TokenBooks) -> WebHandler:
    """The aiohttp handler of ``operation``: authenticate, read and validate, apply
    idempotency (POST), run, answer."""

    async def run(request: web.Request, caller: Caller, raw: bytes) -> _Reply:
        try:
            body = _validated(operation.body, _parsed_json(raw)) if operation.body else None
            query = _validated(operation.query, _query(request)) if operation.query else None
            status, model = await operation.handler(Call(request, core, caller, body, query))
        except ApiProblem as problem:
            return _Reply(problem.status, json.dumps(problem.body(), ensure_ascii=False))
        return _Reply(status, model.model_dump_json())

    async def handle(request: web.Request) -> web.StreamResponse:
        runtime = core.runtime
        settings = runtime.config.dispatcher.api
        if not settings.enabled:
            raise ApiProblem(404, "Not found", "the API is disabled ([api] enabled = false)")
        caller = authenticate(request, books.current(runtime.version, settings), operation.scope)
        raw = await read_body(request, settings.max_body) if operation.body else b""
        key = request.headers.get("Idempotency-Key")
        if operation.method != "POST" or key is None:
            return (await run(request, caller, raw)).response()
        return await _idempotent(request, key, raw, caller, lambda: run(request, caller, raw))

    async def _idempotent(
        request: web.Request,
        key: str,
        raw: bytes,
        caller: Caller,
        answer: Callable[[], Awaitable[_Reply]],
    ) -> web.StreamResponse:
        if not 1 <= len(key) <= 255:
            raise invalid([FieldError("Idempotency-Key", "1 to 255 characters")])
        store = core.store
        what = f"{request.method} {request.path}"
        digest = hashlib.sha256(raw).hexdigest()
        now = core.clock()
        ttl = core.runtime.config.dispatcher.api.idempotency_ttl
        first = await core.call(
            store.idempotency_begin, caller.name, key, what, digest, now, now - ttl
        )
        if first is not None:
            if first.request != what or first.body_sha256 != digest:
                raise ApiProblem(
                    409,
                    "Conflict",
                    "this Idempotency-Key was used for a different request "
                    f"(first: {first.request}); use a new key",
                )
            if first.status is None or first.response is None:
                raise ApiProblem(409, "Conflict", "a request with this Idempotency-Key is running")
            return _Reply(first.status, first.response).response(**{"Idempotency-Replayed": "true"})
        try:
            reply = await answer()
        except BaseException:
            await core.call(store.idempotency_abandon, caller.name, key)
            raise
        if reply.status >= 500:
            await core.call(store.idempotency_abandon, caller.name, key)
        else:
            await core.call(store.idempotency_finish, caller.name, key, reply.status, reply.text)
        return reply.response()

    return handle
