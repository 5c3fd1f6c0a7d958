"""``/v1/cases``: a case created or updated, many people and cases at once (each row validated
alone), and a case read back with its reminders and decision history."""

from __future__ import annotations

import asyncio
from typing import Any

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import (
    BatchBody,
    BatchResult,
    CaseBody,
    CaseResult,
    FieldErrorView,
    RowResult,
)
from dispatcher.api.problems import ApiProblem, FieldError, intake_field_errors, invalid
from dispatcher.api.views import case_detail, case_view
from dispatcher.intake import GoodRow, RowError, parse_case, parse_row, store_rows
from dispatcher.store.api import CaseIn, UnknownCase


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
        raise invalid(intake_field_errors(parsed))
    existing = await core.call(core.store.get_case, case_id)
    if existing is not None and existing.person_id != body.person_id:
        raise invalid([FieldError("person_id", f"case {case_id!r} belongs to another person")])
    if await core.call(core.store.upsert, [], [parsed], core.clock()):  # taken meanwhile
        raise invalid([FieldError("person_id", f"case {case_id!r} belongs to another person")])
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
    # Thousands of rows take a while to check (phone numbers): off the event loop, so
    # /healthz and other requests are answered meanwhile.
    good, row_errors = await asyncio.to_thread(
        _checked_rows,
        body.rows,
        list(runtime.config.schedules.schedules),
        runtime.config.dispatcher.fallback_locale,
    )
    if good:
        zone = runtime.config.dispatcher.fallback_timezone
        errors = await core.call(store_rows, core.store, good, core.clock(), fallback_zone=zone)
        for error in errors:
            row_errors[error.row] = [error]
        for kept in good:  # a claim of theirs waiting to send is checked again
            if kept.row not in row_errors:
                core.changed(case_id=kept.case.id, person_id=kept.case.person_id)
    results = [
        RowResult(
            index=index,
            case_id=_shown_id(row.get("case_id")),
            accepted=index not in row_errors,
            errors=[
                FieldErrorView(field=e.field, message=e.message) for e in row_errors.get(index, [])
            ],
        )
        for index, row in enumerate(body.rows)
    ]
    accepted = sum(r.accepted for r in results)
    return 200, BatchResult(accepted=accepted, rejected=len(results) - accepted, rows=results)


def _checked_rows(
    rows: list[dict[str, Any]], schedules: list[str], default_locale: str
) -> tuple[list[GoodRow], dict[int, list[RowError]]]:
    """Each row of a batch parsed alone: the good rows, and the errors by row index (a case
    given twice is refused the second time)."""
    good: list[GoodRow] = []
    seen: dict[str, int] = {}
    row_errors: dict[int, list[RowError]] = {}
    for index, row in enumerate(rows):
        parsed = parse_row(
            index,
            row,
            schedules=schedules,
            default_schedule=None,
            default_locale=default_locale,
            default_region=None,
        )
        if isinstance(parsed, list):
            row_errors[index] = parsed
        elif parsed.case.id in seen:
            row_errors[index] = [
                RowError(index, "case_id", f"case already given in row {seen[parsed.case.id]}")
            ]
        else:
            seen[parsed.case.id] = index
            good.append(parsed)
    return good, row_errors


def _shown_id(value: object) -> str | None:
    return str(value)[:128] if isinstance(value, str | int) and str(value) else None


async def get_case(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    core = call.core
    try:
        history = await core.read(core.store.case_history, case_id)
    except UnknownCase:
        raise ApiProblem(404, "Not found", f"no case {case_id!r}") from None
    fallback = core.runtime.config.dispatcher.fallback_timezone
    return 200, case_detail(history, fallback, personal_data=call.caller.sees_personal_data)
