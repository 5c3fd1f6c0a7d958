"""The ``/v1/`` operations: every one is declared once in ``OPERATIONS`` (method, path, scope,
bodies); the router and the OpenAPI document are both built from that list."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from dispatcher.api.arrangements import (
    ArrangementBody,
    ArrangementList,
    ArrangementResult,
    CancelBody,
    PaymentBody,
    PaymentResultView,
    get_arrangements,
    post_arrangement,
    post_cancel,
    post_payment,
)
from dispatcher.api.attempts import post_resolve
from dispatcher.api.call import Handler
from dispatcher.api.cases import get_case, post_batch, put_case
from dispatcher.api.events import post_event
from dispatcher.api.models import (
    BatchBody,
    BatchResult,
    CaseBody,
    CaseDetail,
    CaseResult,
    EventBody,
    EventResult,
    PersonBody,
    PersonResult,
    ReminderPage,
    ReminderQuery,
    ResolveBody,
    ResolveResult,
)
from dispatcher.api.people import put_person
from dispatcher.api.reminders import list_reminders
from dispatcher.api.wishes import WishesBody, WishesResult, WishesView, get_wishes, put_wishes


@dataclass(frozen=True)
class Operation:
    """One route of ``/v1/``: what it answers to, who may call it, what it takes and gives."""

    method: str
    path: str  # under /v1
    handler: Handler
    scope: str
    summary: str
    responses: dict[int, type[BaseModel]]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    finds: bool = False  # answers 404 for an unknown case or person


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
        "/people/{person_id}/wishes",
        put_wishes,
        "write",
        "Replace the person's wishes: refused channels, hours not to be contacted in, the "
        "language to write in (the policy reads them as further exclusions, never looser)",
        {200: WishesResult},
        body=WishesBody,
        finds=True,
    ),
    Operation(
        "GET",
        "/people/{person_id}/wishes",
        get_wishes,
        "read",
        "The person's wishes in force, when and by whom they were set",
        {200: WishesView},
        finds=True,
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
        "POST",
        "/cases/{case_id}/arrangements",
        post_arrangement,
        "write",
        "Make a promise to pay or an instalment plan on a case: its ladder pauses, each "
        "instalment is reminded of; 409 when the case allows none, 422 out of bounds",
        {201: ArrangementResult},
        body=ArrangementBody,
        finds=True,
    ),
    Operation(
        "GET",
        "/cases/{case_id}/arrangements",
        get_arrangements,
        "read",
        "A case's arrangements, oldest first, with their instalments",
        {200: ArrangementList},
        finds=True,
    ),
    Operation(
        "POST",
        "/cases/{case_id}/arrangements:cancel",
        post_cancel,
        "write",
        "Cancel the case's active arrangement (its reminders cancelled, the ladder resumes)",
        {200: ArrangementResult},
        body=CancelBody,
        finds=True,
    ),
    Operation(
        "POST",
        "/cases/{case_id}/payments",
        post_payment,
        "write",
        "Record a payment: it settles instalments oldest first and reduces the balance (at 0 "
        "the case is paid); a reference given again changes nothing",
        {200: PaymentResultView},
        body=PaymentBody,
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
    Operation(
        "POST",
        "/attempts:resolve",
        post_resolve,
        "write",
        "Resolve attempts whose outcome is unknown (recorded with the reason for audit); "
        "those already resolved are left alone",
        {200: ResolveResult},
        body=ResolveBody,
    ),
)
