"""What an arrangement may be: on which cases one may be made (not a disputed debt, not
after cease, not one settled), and the admin's bounds (``[arrangements]`` in policy.toml):
the longest plan, the smallest instalment (an amount, a share of the balance), the most
instalments. Pure: the balance and today's date are passed in."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from dispatcher.config.policy_file import ArrangementBounds
from dispatcher.model import Case, CaseState

# Where an arrangement may be made: an open case, one paused for hardship or by a plan
# without an arrangement. A disputed debt is not collected until verified (Reg F §1006.38);
# after cease (§1006.6(c)) there is nothing to negotiate by these channels.
_ALLOWED = (CaseState.OPEN, CaseState.PLAN, CaseState.HARDSHIP)
_WHY = {
    CaseState.DISPUTED: "the debt is disputed: no arrangement until the dispute is resolved",
    CaseState.CEASED: "the person asked us to cease communication: no arrangement is made",
    CaseState.PAID: "the case is paid",
    CaseState.CLOSED: "the case is closed",
}
MAX_PLACES = 2  # decimal places of an amount


@dataclass(frozen=True)
class Proposed:
    """One instalment as given: ``due`` by ``amount``."""

    due: date
    amount: Decimal


def refusal(case: Case, balance: Decimal) -> str | None:
    """Why no arrangement may be made on ``case`` now (None: one may)."""
    if case.state not in _ALLOWED:
        why = _WHY.get(case.state, f"the case is {case.state.value}")
        return f"case {case.id}: {why}"
    if balance <= 0:
        return f"case {case.id}: nothing is owed (balance {balance})"
    return None


def money_problem(value: Decimal) -> str | None:
    """What is wrong with ``value`` as an amount of money, or None."""
    if not value.is_finite():
        return f"{value} is not an amount"
    if value <= 0:
        return f"{value} must be more than 0"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        return f"{value} has more than {MAX_PLACES} decimal places"
    return None


def parse_money(text: str) -> Decimal | None:
    """``text`` as an amount (None when it is not a number)."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    return value if value.is_finite() else None


def plan_problems(
    instalments: Sequence[Proposed],
    balance: Decimal,
    bounds: ArrangementBounds,
    today: date,
    *,
    promise: bool = False,
) -> list[tuple[str, str]]:
    """Each (field, message) at fault in a proposed arrangement; none when it may be made.
    A promise's fields are ``amount`` and ``date``, a plan's ``instalments[i].amount`` and
    ``instalments[i].due``."""

    def name(index: int, part: str) -> str:
        if promise:
            return "date" if part == "due" else "amount"
        return f"instalments[{index}].{part}"

    where = "amount" if promise else "instalments"
    if not instalments:
        return [(where, "give at least one instalment")]
    if len(instalments) > bounds.max_instalments:
        return [
            (where, f"{len(instalments)} instalments: at most {bounds.max_instalments} allowed")
        ]
    problems: list[tuple[str, str]] = []
    last = today + bounds.longest
    floor = max(bounds.min_instalment, (bounds.min_share * balance).quantize(Decimal("0.01")))
    for index, item in enumerate(instalments):
        problem = money_problem(item.amount)
        if problem:
            problems.append((name(index, "amount"), problem))
        elif index < len(instalments) - 1 and item.amount < floor:
            problems.append(
                (
                    name(index, "amount"),
                    f"{item.amount} is below the smallest instalment allowed ({floor}: "
                    f"min_instalment {bounds.min_instalment}, min_share {bounds.min_share} "
                    f"of the balance {balance})",
                )
            )
        if item.due < today:
            problems.append((name(index, "due"), f"{item.due} is before today ({today})"))
        elif item.due > last:
            problems.append(
                (
                    name(index, "due"),
                    f"{item.due} is after {last}: the longest arrangement is "
                    f"{bounds.longest.days} days",
                )
            )
        elif index and item.due <= instalments[index - 1].due:
            problems.append(
                (
                    name(index, "due"),
                    f"{item.due} must be after the instalment before it "
                    f"({instalments[index - 1].due})",
                )
            )
    total = sum((i.amount for i in instalments), Decimal(0))
    if not problems and total > balance:
        problems.append((where, f"the instalments total {total}, more than the balance {balance}"))
    return problems


# How often a plan proposed on the person's page falls due: each a step from the first date.
INTERVALS = ("week", "fortnight", "month")


def _step(first: date, index: int, every: str) -> date:
    if every == "week":
        return first + timedelta(weeks=index)
    if every == "fortnight":
        return first + timedelta(weeks=2 * index)
    month = first.month - 1 + index
    year, month = first.year + month // 12, month % 12 + 1
    # The 31st falls on a shorter month's last day.
    day = min(first.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def equal_instalments(total: Decimal, count: int, first: date, every: str) -> list[Proposed]:
    """``total`` in ``count`` instalments from ``first``, one each ``every`` (``INTERVALS``):
    equal amounts to the cent, the last taking what is left."""
    if count < 1 or every not in INTERVALS:
        raise ValueError(f"count {count}, every {every!r}")
    each = (total / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    last = total - each * (count - 1)
    return [
        Proposed(_step(first, index, every), each if index < count - 1 else last)
        for index in range(count)
    ]
