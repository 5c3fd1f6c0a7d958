"""``dispatcher simulate``: the planner and the policy in virtual time, from the store or a
data file, optionally compared with another config directory."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import click

from dispatcher.cli.console import err, fail, out, print_json
from dispatcher.cli.instants import parse_instant, utc_now
from dispatcher.cli.loading import runtime_or_exit
from dispatcher.config import Config
from dispatcher.terminal import printable


@click.command()
@click.option("--days", default=30, show_default=True, help="Days of virtual time to run.")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="People and cases from this CSV or JSON Lines file instead of the store.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The config directory before a change (OLD): show what going from it to --config "
    "(NEW) adds, removes or moves, in each person's local time.",
)
@click.option("--start", "start_text", help="Virtual start (ISO date or date-time; default now).")
@click.option(
    "--answer-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of calls that become a conversation.",
)
@click.option(
    "--instalments-paid",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of arrangements' instalments paid on their due day (the rest are missed and "
    "break their arrangement after the grace).",
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-timeline", is_flag=True, help="Leave out the per-case timeline.")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def simulate(
    ctx: click.Context,
    days: int,
    data: Path | None,
    against: Path | None,
    start_text: str | None,
    answer_rate: float,
    instalments_paid: float,
    html_path: Path | None,
    no_timeline: bool,
    as_json: bool,
) -> None:
    """Run the planner and the policy in virtual time: nothing is sent and the live store is
    not written. Shows each case's timeline, totals per day, hour-of-day charts against the
    channels' windows, suppressions by reason and contacts per jurisdiction."""
    from dispatcher.admin.simulate import simulate as run_simulation
    from dispatcher.admin.simulate_report import (
        compare,
        render_changes,
        render_changes_html,
        render_terminal,
        report_json,
        write_html,
    )

    runtime = runtime_or_exit(ctx.obj["config"])
    zone = runtime.config.dispatcher.timezone
    start = parse_instant(start_text, zone) if start_text else utc_now()
    people, cases, opt_outs = (
        _simulation_input(runtime.config, data, start) if data else ([], [], [])
    )
    run_on = partial(
        run_simulation,
        people=people,
        cases=cases,
        start=start,
        days=days,
        answer_rate=answer_rate,
        instalments_paid=instalments_paid,
        opt_outs=opt_outs,
        source_url=None if data else runtime.config.store_url,
    )
    result = run_on(runtime)
    if not as_json:
        render_terminal(out, result, timeline=not no_timeline)
    section, changes = "", None
    if against is not None:
        # --against names the config before the change: the difference reads OLD → NEW.
        old, new = str(against), str(ctx.obj["config"])
        changes = compare(run_on(runtime_or_exit(against)), result)
        if not as_json:
            render_changes(out, changes, old, new)
        section = render_changes_html(changes, old, new)
    if html_path is not None:
        write_html(html_path, result, section, policy=runtime.policy, zone=zone)
        # Said on stderr under --json, whose standard output is the one JSON object.
        (err if as_json else out).print(f"wrote {html_path}", markup=False)
    if as_json:
        print_json(report_json(result, changes))


def _simulation_input(
    config: Config, data: Path, start: datetime
) -> tuple[list[Any], list[Any], list[Any]]:
    """People, cases and opt-outs to simulate from a data file; bad rows are reported and
    left out, as ``import`` would; a Breathing Space a row gives holds its case from
    ``start``, as an import then would record it."""
    from dispatcher.intake import FileProblem, GoodRow, RowError, parse_row, read_rows
    from dispatcher.intake.batches import with_moratoria

    good: list[GoodRow] = []
    try:
        rows = list(read_rows(data))
    except FileProblem as exc:
        fail(f"{data}: {exc}")
    for number, row in rows:
        if isinstance(row, RowError):
            err.print(printable(f"{data}: {row} (left out)"), markup=False)
            continue
        parsed = parse_row(
            number,
            row,
            schedules=list(config.schedules.schedules),
            default_schedule=None,
            default_locale=config.dispatcher.fallback_locale,
            default_region=None,
        )
        if isinstance(parsed, list):
            for error in parsed:
                err.print(printable(f"{data}: {error} (left out)"), markup=False)
            continue
        good.append(parsed)
    fallback = config.dispatcher.fallback_timezone
    problems, good = with_moratoria(good, start, fallback, lambda _: None)
    for error in problems:
        err.print(printable(f"{data}: {error} (left out)"), markup=False)
    people = {row.person.id: row.person for row in good}
    return list(people.values()), [row.case for row in good], []
