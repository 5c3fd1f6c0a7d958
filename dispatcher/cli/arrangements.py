"""``dispatcher arrangement make|cancel|list|requests`` and ``dispatcher payment``: a promise
to pay or an instalment plan on a case, and money received on it, as the API records them. A case
that allows none (disputed, ceased, paid) or terms out of policy.toml's bounds: exit 1 with
the field and the value."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from dispatcher.cli.console import PROBLEMS, err, fail, out, print_json
from dispatcher.cli.instants import utc_now
from dispatcher.cli.loading import config_or_exit, store_or_exit
from dispatcher.config import Config
from dispatcher.model import Arrangement
from dispatcher.planner.arrangements import ArrangementInvalid, make_arrangement
from dispatcher.policy.arrangements import Proposed, money_problem, parse_money
from dispatcher.store import Store, open_store
from dispatcher.store.api import UnknownCase
from dispatcher.store.arrangements_api import ArrangementRefused
from dispatcher.terminal import printable


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{name}: {text!r} is not a date (YYYY-MM-DD)")


def _amount(text: str, name: str) -> Decimal:
    value = parse_money(text)
    if value is None:
        fail(f"{name}: {text!r} is not an amount (e.g. 50.00)")
    problem = money_problem(value)
    if problem:
        fail(f"{name}: {problem}")
    return value


def _instalment(text: str, index: int) -> Proposed:
    due, sep, amount = text.partition(":")
    name = f"--instalment {index + 1}"
    if not sep:
        fail(f"{name}: {text!r} is not DATE:AMOUNT (e.g. 2026-04-01:50.00)")
    return Proposed(_date(due, name), _amount(amount, name))


def describe(arrangement: Arrangement, currency: str) -> str:
    parts = ", ".join(
        f"{i.number}: {i.amount} {currency} by {i.due} (paid {i.paid})"
        for i in arrangement.instalments
    )
    ended = f" — {arrangement.reason}" if arrangement.reason else ""
    state = arrangement.state.value
    return f"arrangement {arrangement.id} ({arrangement.kind}): {state}{ended}; {parts}"


def _changed(store: Store, case_id: str, change: Callable[[], Arrangement]) -> Arrangement:
    """Run ``change``, print the case and the arrangement as they then stand; a refusal or
    bad terms exit 1 with the reason, an unknown case 2 (the store closed either way)."""
    try:
        done = change()
        case = store.get_case(case_id)
    except UnknownCase:
        fail(f"no case {case_id!r}")
    except ArrangementRefused as exc:
        fail(exc.reason, PROBLEMS)
    except ArrangementInvalid as exc:
        fail("; ".join(f"{field}: {message}" for field, message in exc.problems), PROBLEMS)
    finally:
        store.close()
    assert case is not None
    out.print(f"case {case_id}: {case.state.value}; {describe(done, case.currency)}", markup=False)
    return done


@click.group()
def arrangement() -> None:
    """Promises to pay and instalment plans on a case."""


@arrangement.command("make")
@click.argument("case_id")
@click.option("--promise", "promise", help="A promise to pay this AMOUNT (with --on).")
@click.option("--on", "on", help="The date the promised amount is due (YYYY-MM-DD).")
@click.option(
    "--instalment",
    "instalments",
    multiple=True,
    help="An instalment DATE:AMOUNT (repeat it, in date order).",
)
@click.pass_context
def make(
    ctx: click.Context,
    case_id: str,
    promise: str | None,
    on: str | None,
    instalments: tuple[str, ...],
) -> None:
    """Make a promise (--promise AMOUNT --on DATE) or a plan (--instalment DATE:AMOUNT …)."""
    if promise is not None and instalments:
        fail("give --promise with --on, or --instalment, not both")
    if promise is not None:
        if on is None:
            fail("--promise needs --on DATE")
        kind, proposed = "promise", [Proposed(_date(on, "--on"), _amount(promise, "--promise"))]
    elif instalments:
        kind, proposed = "plan", [_instalment(t, i) for i, t in enumerate(instalments)]
    else:
        fail("give --promise AMOUNT --on DATE, or --instalment DATE:AMOUNT")
    config = config_or_exit(ctx.obj["config"])
    store = open_store(config.store_url)
    _changed(
        store,
        case_id,
        lambda: make_arrangement(
            store, config, case_id, kind, proposed, now=utc_now(), source="cli"
        ),
    )


@arrangement.command("cancel")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why it is cancelled (kept for audit).")
@click.pass_context
def cancel(ctx: click.Context, case_id: str, reason: str) -> None:
    """Cancel the case's active arrangement: its reminders cancelled, the ladder resumes."""
    _, store = store_or_exit(ctx.obj["config"])
    _changed(
        store,
        case_id,
        lambda: store.cancel_arrangement(case_id, now=utc_now(), source="cli", reason=reason),
    )


@arrangement.command("list")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="The list as one JSON object.")
@click.pass_context
def list_(ctx: click.Context, case_id: str, as_json: bool) -> None:
    """The case's arrangements, oldest first, and its balance."""
    _, store = store_or_exit(ctx.obj["config"])
    try:
        case = store.get_case(case_id)
        if case is None:
            fail(f"no case {case_id!r}")
        found = store.arrangements_of(case_id)
        balance = store.balance(case_id)
    finally:
        store.close()
    if as_json:
        from dispatcher.api.views import arrangement_view

        print_json(
            {
                "case_id": case_id,
                "state": case.state.value,
                "balance": str(balance),
                "currency": case.currency,
                # As GET /v1/cases/{id}/arrangements lists them.
                "arrangements": [arrangement_view(a).model_dump(mode="json") for a in found],
            }
        )
        return
    out.print(
        f"case {case_id}: {case.state.value}, balance {balance} {case.currency}", markup=False
    )
    for item in found:
        out.print(describe(item, case.currency), markup=False)
    if not found:
        out.print("no arrangements", markup=False)


@arrangement.command("requests")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 36_500))
@click.option("--json", "as_json", is_flag=True, help="The requests as one JSON object.")
@click.pass_context
def requests(ctx: click.Context, days: int, as_json: bool) -> None:
    """Terms people proposed on their own page that were not accepted at once (beyond the
    bounds, or after too many broken arrangements), for the team to answer; oldest first."""
    _, store = store_or_exit(ctx.obj["config"])
    try:
        found = store.arrangement_requests(utc_now() - timedelta(days=days))
    finally:
        store.close()
    if as_json:
        print_json({"days": days, "requests": [vars(item) for item in found]})
        return
    for item in found:
        line = f"{item.at:%Y-%m-%d %H:%M} UTC  case {item.case_id}  ({item.source}): {item.detail}"
        out.print(printable(line), markup=False)
    if not found:
        out.print(f"no requests in the last {days} days", markup=False)


@click.command()
@click.argument("case_id")
@click.argument("amount")
@click.option("--date", "paid_on", required=True, help="The date it was paid (YYYY-MM-DD).")
@click.option("--reference", required=True, help="The payment's reference (given again: no-op).")
@click.pass_context
def payment(ctx: click.Context, case_id: str, amount: str, paid_on: str, reference: str) -> None:
    """Record a payment: it settles instalments oldest first and reduces the balance."""
    value = _amount(amount, "amount")
    day = _date(paid_on, "--date")
    if not reference.strip() or len(reference) > 128:
        fail(f"--reference: {reference!r} must be 1 to 128 characters")
    _, store = store_or_exit(ctx.obj["config"])
    try:
        result = store.record_payment(case_id, value, day, reference, now=utc_now(), source="cli")
        case = store.get_case(case_id)
    except UnknownCase:
        fail(f"no case {case_id!r}")
    finally:
        store.close()
    assert case is not None
    what = "already recorded" if result.duplicate else "recorded"
    settled = ", ".join(map(str, result.settled)) or "none"
    out.print(
        f"payment {what}; case {case_id}: {case.state.value}, balance {result.balance} "
        f"{case.currency}; instalments settled: {settled}",
        markup=False,
    )


def _row_text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _row_terms(number: int, row: dict[str, Any], date_key: str) -> tuple[date, Decimal] | str:
    """A row's date (under ``date_key``) and amount, or what is wrong with them."""
    day_text, amount = _row_text(row, date_key), _row_text(row, "amount")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        return f"row {number}: {date_key}: {day_text!r} is not a date (YYYY-MM-DD)"
    value = parse_money(amount)
    problem = f"{amount!r} is not an amount" if value is None else money_problem(value)
    if problem or value is None:
        return f"row {number}: amount: {problem}"
    return day, value


@dataclass
class _Group:
    """Consecutive instalment rows of one case: one arrangement."""

    case_id: str
    kind: str
    rows: list[int] = field(default_factory=list)
    terms: list[Proposed] = field(default_factory=list)
    bad: bool = False


def _import_group(store: Store, config: Config, group: _Group) -> str | None:
    """Make the group's arrangement; what went wrong, or None."""
    if group.bad:
        return None  # its rows are reported already
    where = (
        f"row {group.rows[0]}"
        if len(group.rows) == 1
        else (f"rows {group.rows[0]}-{group.rows[-1]}")
    )
    kind = group.kind or ("promise" if len(group.terms) == 1 else "plan")
    try:
        make_arrangement(
            store, config, group.case_id, kind, group.terms, now=utc_now(), source="import"
        )
    except UnknownCase:
        return f"{where}: no case {group.case_id!r}"
    except ArrangementRefused as exc:
        return f"{where}: {exc.reason}"
    except ArrangementInvalid as exc:
        return f"{where}: " + "; ".join(f"{f}: {m}" for f, m in exc.problems)
    return None


def _import_payment(store: Store, number: int, row: dict[str, Any]) -> str | None:
    case_id, reference = _row_text(row, "case_id"), _row_text(row, "reference")
    terms = _row_terms(number, row, "date")
    if isinstance(terms, str):
        return terms
    day, value = terms
    if len(reference) > 128:
        return f"row {number}: reference: longer than 128 characters"
    try:
        store.record_payment(case_id, value, day, reference, now=utc_now(), source="import")
    except UnknownCase:
        return f"row {number}: no case {case_id!r}"
    return None


@arrangement.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_(ctx: click.Context, file: Path) -> None:
    """Arrangements and payments from CSV or JSON Lines: a row with ``reference`` (and
    ``case_id``, ``amount``, ``date``) is a payment; one with ``case_id``, ``due`` and
    ``amount`` (``kind`` optional) an instalment, consecutive ones of a case one arrangement
    (one row alone: a promise). Bad rows are reported and left out; exit 1 if any was."""
    from dispatcher.intake import FileProblem, RowError, read_rows

    config = config_or_exit(ctx.obj["config"])
    store = open_store(config.store_url)
    problems: list[str] = []
    group: _Group | None = None
    done = failed = 0

    def settle(problem: str | None, bad: bool = False) -> None:
        nonlocal done, failed
        done += 1
        if problem:
            problems.append(problem)
        failed += bool(problem) or bad

    try:
        for number, row in read_rows(file):
            if isinstance(row, RowError):
                settle(f"row {number}: {row}")
                continue
            case_id = _row_text(row, "case_id")
            if group is not None and (case_id != group.case_id or _row_text(row, "reference")):
                settle(_import_group(store, config, group), group.bad)
                group = None
            if _row_text(row, "reference"):
                settle(_import_payment(store, number, row))
                continue
            group = group or _Group(case_id, _row_text(row, "kind"))
            group.rows.append(number)
            terms = _row_terms(number, row, "due")
            if isinstance(terms, str):
                problems.append(terms)
                group.bad = True
            else:
                group.terms.append(Proposed(*terms))
        if group is not None:
            settle(_import_group(store, config, group), group.bad)
    except FileProblem as exc:
        fail(f"{file}: {exc}")
    finally:
        store.close()
    for problem in problems:
        err.print(printable(f"{file}: {problem}"), markup=False)
    out.print(f"{done - failed} of {done} arrangement(s) and payment(s) recorded", markup=False)
    if problems:
        sys.exit(1)
