"""``dispatcher arrangement make|cancel|list`` and ``dispatcher payment``: a promise to pay or
an instalment plan on a case, and money received on it, as the API records them. A case
that allows none (disputed, ceased, paid) or terms out of policy.toml's bounds: exit 1 with
the field and the value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import click

from dispatcher.cli.console import fail, out
from dispatcher.cli.instants import utc_now
from dispatcher.cli.loading import config_or_exit, store_or_exit
from dispatcher.model import Arrangement
from dispatcher.planner.arrangements import ArrangementInvalid, make_arrangement
from dispatcher.policy.arrangements import Proposed, money_problem, parse_money
from dispatcher.store import Store, open_store
from dispatcher.store.api import UnknownCase
from dispatcher.store.arrangements_api import ArrangementRefused


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
    bad terms exit 1 with the reason (the store closed either way)."""
    try:
        done = change()
        case = store.get_case(case_id)
    except UnknownCase:
        fail(f"no case {case_id!r}")
    except ArrangementRefused as exc:
        fail(exc.reason)
    except ArrangementInvalid as exc:
        fail("; ".join(f"{field}: {message}" for field, message in exc.problems))
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
@click.pass_context
def list_(ctx: click.Context, case_id: str) -> None:
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
    out.print(
        f"case {case_id}: {case.state.value}, balance {balance} {case.currency}", markup=False
    )
    for item in found:
        out.print(describe(item, case.currency), markup=False)
    if not found:
        out.print("no arrangements", markup=False)


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
