"""What the person's own page does with a form: a promise or an instalment plan made as the
API makes one (``make_arrangement``), terms it cannot accept at once kept as a request for
the team, hardship and disputes recorded as case events, opt-outs per channel (contact preferences:
``self_service_wishes``) — each
through the store's own calls, then ``changed`` so the next reminder honours it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from dispatcher.api.access import CoreAccess
from dispatcher.model import ArrangementState, Case, CaseState, Instalment
from dispatcher.planner.arrangements import ArrangementInvalid, make_arrangement
from dispatcher.policy.arrangements import (
    INTERVALS,
    Proposed,
    equal_instalments,
    money_problem,
    parse_money,
)
from dispatcher.store.api import UnknownCase
from dispatcher.store.arrangements import describe
from dispatcher.store.arrangements_api import ArrangementRefused

SOURCE = "self-service"
MAX_NOTE = 1000  # characters of a note kept with a hardship report or a dispute
MAX_COUNT = 60  # instalments the form accepts (policy's bounds may allow fewer)
ACTIONS = ("promise", "plan", "hardship", "dispute", "opt-out", "preferences")
# What the page says after an action (the ``done`` of its redirect; nothing else is shown).
DONE = (
    "done_promise",
    "done_plan",
    "done_request",
    "done_hardship",
    "done_dispute",
    "done_opt_out",
    "done_preferences",
)


class FormProblem(ValueError):
    """Fields of the form the page cannot read: each (field, text key)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


class Refused(Exception):
    """The case allows no such change now (disputed, ceased, paid, an arrangement active)."""


def _date(form: Mapping[str, str], name: str, problems: list[tuple[str, str]]) -> date | None:
    try:
        return date.fromisoformat(form.get(name, "").strip())
    except ValueError:
        problems.append((name, "bad_date"))
        return None


def _note(form: Mapping[str, str]) -> str:
    return " ".join(form.get("note", "").split())[:MAX_NOTE]


def read_terms(form: Mapping[str, str], action: str, balance: Decimal) -> list[Proposed]:
    """The instalments a promise or plan form proposes; ``FormProblem`` when unreadable."""
    problems: list[tuple[str, str]] = []
    if action == "promise":
        when = _date(form, "date", problems)
        amount = parse_money(form.get("amount", "") or str(balance))
        if amount is None or money_problem(amount):
            problems.append(("amount", "bad_number"))
        if problems or when is None or amount is None:
            raise FormProblem(problems)
        return [Proposed(when, amount)]
    text = form.get("count", "").strip()
    count = int(text) if text.isdigit() and 1 <= int(text) <= MAX_COUNT else None
    if count is None:
        problems.append(("count", "bad_number"))
    first = _date(form, "first", problems)
    every = form.get("every", "")
    if every not in INTERVALS:
        problems.append(("every", "bad_choice"))
    if problems or count is None or first is None:
        raise FormProblem(problems)
    return equal_instalments(balance, count, first, every)


async def arrange(core: CoreAccess, case: Case, action: str, form: Mapping[str, str]) -> str:
    """Make the promise or plan the form proposes; terms beyond the bounds (or a case past
    ``max_broken`` broken arrangements) are recorded as a request for the team instead."""
    store = core.store
    balance = await core.read(store.balance, case.id)
    proposed = read_terms(form, action, balance)
    config = core.runtime.config
    now = core.clock()
    terms = describe(
        [Instalment(n, p.due, p.amount) for n, p in enumerate(proposed, 1)], case.currency
    )
    past = await core.read(store.arrangements_of, case.id)
    broken = sum(1 for a in past if a.state is ArrangementState.BROKEN)
    limit = config.policy.arrangements.max_broken
    why = (
        f"{broken} broken arrangements (max_broken {limit})"
        if broken >= limit
        else await _try(core, case, action, proposed, now)
    )
    if why is None:
        core.changed(case_id=case.id, person_id=case.person_id)
        return f"done_{action}"
    detail = f"{action} proposed on the person's page: {terms}; not accepted at once: {why}"
    await core.call(store.request_arrangement, case.id, detail, now=now, source=SOURCE)
    return "done_request"


async def _try(
    core: CoreAccess, case: Case, kind: str, proposed: list[Proposed], now: datetime
) -> str | None:
    """Make the arrangement; None when made, else why its terms were not accepted."""
    try:
        await core.call(
            make_arrangement,
            core.store,
            core.runtime.config,
            case.id,
            kind,
            proposed,
            now=now,
            source=SOURCE,
        )
    except ArrangementInvalid as exc:
        return "; ".join(f"{field}: {message}" for field, message in exc.problems)
    except (ArrangementRefused, UnknownCase):
        raise Refused() from None
    return None


# The states a person's own report may change. A dispute on a ceased, paid or closed case,
# or hardship over a dispute, a cease or an arrangement, would lift what holds the case when
# it ends (``resolve`` opens a disputed case; a hardship pause ends in contact): those are for
# the team, and the page says to contact it.
MAY_REPORT = {
    "hardship": (CaseState.OPEN, CaseState.HARDSHIP),
    "dispute": (CaseState.OPEN, CaseState.PLAN, CaseState.HARDSHIP, CaseState.DISPUTED),
}


async def record_event(core: CoreAccess, case: Case, action: str, form: Mapping[str, str]) -> str:
    """Hardship (the ladder paused ``hardship_pause``) or a dispute, with the person's note."""
    settings = core.runtime.config.dispatcher.self_service
    assert settings is not None
    if case.state not in MAY_REPORT[action]:
        raise Refused()
    now = core.clock()
    until = now + settings.hardship_pause if action == "hardship" else None
    try:
        await core.call(
            core.store.case_event,
            case.id,
            action,
            now=now,
            until=until,
            source=SOURCE,
            detail=" ".join(("from the person's page", _note(form))).strip(),
        )
    except (UnknownCase, ValueError):
        raise Refused() from None
    core.changed(case_id=case.id, person_id=case.person_id)
    return f"done_{action}"


async def opt_out(core: CoreAccess, case: Case, form: Mapping[str, str]) -> str:
    """An opt-out of each channel ticked (``channel_<name>``), for every address."""
    channels = [c for c in core.runtime.config.dispatcher.channels if form.get(f"channel_{c}")]
    if not channels:
        raise FormProblem([("channels", "none_chosen")])
    now = core.clock()
    for channel in channels:
        await core.call(core.store.opt_out, case.person_id, channel, None, now=now, source=SOURCE)
    core.changed(case_id=case.id, person_id=case.person_id)
    return "done_opt_out"
