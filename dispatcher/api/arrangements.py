"""``/v1/cases/{case_id}/arrangements`` and ``/payments``: a promise to pay or an instalment
plan made on a case (its ladder pauses), listed, cancelled; a payment received (it settles
instalments and reduces the balance). A case that allows none (disputed, ceased, paid) is a
409; terms out of policy.toml's bounds a 422 naming the field and the value."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any, Literal, TypeVar

from pydantic import Field, model_validator

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import AMOUNT_PATTERN, ArrangementView, CaseView, _Request, _Response
from dispatcher.api.problems import ApiProblem, FieldError, invalid
from dispatcher.api.views import arrangement_view, case_view
from dispatcher.model import Case
from dispatcher.planner.arrangements import ArrangementInvalid, make_arrangement
from dispatcher.policy.arrangements import Proposed, money_problem
from dispatcher.store.api import UnknownCase
from dispatcher.store.arrangements_api import ArrangementRefused, PaymentResult

log = logging.getLogger("dispatcher.api")
T = TypeVar("T")


class InstalmentBody(_Request):
    due: dt.date
    amount: str = Field(pattern=AMOUNT_PATTERN, description="a positive decimal, e.g. 50.00")


class ArrangementBody(_Request):
    """A promise to pay (``kind = "promise"``: ``amount`` by ``date``) or an instalment plan
    (``kind = "plan"``: ``instalments``, each ``due`` by ``amount``, dates in the person's
    time zone, in order)."""

    kind: Literal["promise", "plan"]
    amount: str | None = Field(None, pattern=AMOUNT_PATTERN)
    date: dt.date | None = None
    instalments: list[InstalmentBody] = Field([], max_length=1000)

    @model_validator(mode="after")
    def _terms(self) -> ArrangementBody:
        if self.kind == "promise" and (self.amount is None or self.date is None):
            raise ValueError("a promise gives amount and date")
        if self.kind == "promise" and self.instalments:
            raise ValueError("a promise gives amount and date, not instalments")
        if self.kind == "plan" and (self.amount is not None or self.date is not None):
            raise ValueError("a plan gives instalments, not amount and date")
        return self


class CancelBody(_Request):
    reason: str = Field(min_length=1, max_length=500)


class PaymentBody(_Request):
    """Money received on the case; a ``reference`` given again is the same payment."""

    amount: str = Field(pattern=AMOUNT_PATTERN, description="a positive decimal, e.g. 50.00")
    date: dt.date
    reference: str = Field(min_length=1, max_length=128)


class ArrangementResult(_Response):
    arrangement: ArrangementView
    case: CaseView


class ArrangementList(_Response):
    arrangements: list[ArrangementView]


class PaymentResultView(_Response):
    balance: str
    settled: list[int]
    overpaid: str
    duplicate: bool
    case_paid: bool
    arrangement: ArrangementView | None


def _proposed(body: ArrangementBody) -> list[Proposed]:
    if body.kind == "promise":
        assert body.amount is not None and body.date is not None
        return [Proposed(body.date, Decimal(body.amount))]
    return [Proposed(i.due, Decimal(i.amount)) for i in body.instalments]


async def _change(call: Call, case_id: str, fn: Callable[..., T], *args: Any) -> tuple[T, Case]:
    """``fn`` run on the store thread (``now`` and ``source`` given), its refusals as
    problems (404 no case, 409 refused, 422 terms), then the case as it stands, whose
    claims not yet sent are checked again."""
    core = call.core
    try:
        done = await core.call(fn, *args, now=core.clock(), source=f"api:{call.caller.name}")
    except UnknownCase:
        raise ApiProblem(404, "Not found", f"no case {case_id!r}") from None
    except ArrangementRefused as exc:
        raise ApiProblem(409, "Conflict", exc.reason) from None
    except ArrangementInvalid as exc:
        raise invalid([FieldError(f, m) for f, m in exc.problems]) from None
    case = await core.call(core.store.get_case, case_id)
    assert case is not None
    core.changed(case_id=case_id, person_id=case.person_id)
    return done, case


async def post_arrangement(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    core = call.core
    body: ArrangementBody = call.body
    made, case = await _change(
        call,
        case_id,
        make_arrangement,
        core.store,
        core.runtime.config,
        case_id,
        body.kind,
        _proposed(body),
    )
    log.info("api arrangement", extra={"fields": {"case": case_id, "arrangement": made.id}})
    return 201, ArrangementResult(arrangement=arrangement_view(made), case=case_view(case))


async def get_arrangements(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    core = call.core
    if await core.read(core.store.get_case, case_id) is None:
        raise ApiProblem(404, "Not found", f"no case {case_id!r}")
    found = await core.read(core.store.arrangements_of, case_id)
    return 200, ArrangementList(arrangements=[arrangement_view(a) for a in found])


async def post_cancel(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    body: CancelBody = call.body
    store = call.core.store
    ended, case = await _change(
        call, case_id, partial(store.cancel_arrangement, reason=body.reason), case_id
    )
    return 200, ArrangementResult(arrangement=arrangement_view(ended), case=case_view(case))


async def post_payment(call: Call) -> Answer:
    case_id = call.path_id("case_id")
    body: PaymentBody = call.body
    amount = Decimal(body.amount)
    problem = money_problem(amount)
    if problem:
        raise invalid([FieldError("amount", problem)])
    store = call.core.store
    result: PaymentResult
    result, _ = await _change(
        call, case_id, store.record_payment, case_id, amount, body.date, body.reference
    )
    log.info("api payment", extra={"fields": {"case": case_id, "duplicate": result.duplicate}})
    return 200, PaymentResultView(
        balance=str(result.balance),
        settled=list(result.settled),
        overpaid=str(result.overpaid),
        duplicate=result.duplicate,
        case_paid=result.case_paid,
        arrangement=arrangement_view(result.arrangement) if result.arrangement else None,
    )
