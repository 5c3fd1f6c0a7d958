"""The ``dispatcher`` command: run, check, import, enqueue, event, status, explain, plugins."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dispatcher.config import Config, ConfigError, DispatcherFile, load_config, load_dispatcher_file
from dispatcher.privacy import mask_contact
from dispatcher.store import Store, open_store
from dispatcher.store.api import NewReminder, UnknownCase

DEFAULT_CONFIG = "/etc/dispatcher"
# soft_wrap: one error per line even when the output is a pipe or the journal.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True)
    sys.exit(code)


def _config(ctx: click.Context) -> Config:
    """The whole config directory (templates not rendered), or exit 2 listing its errors."""
    try:
        return load_config(ctx.obj["config"], check_templates=False)
    except ConfigError as exc:
        _config_failed(exc)


def _runtime_config(ctx: click.Context) -> Config:
    """The whole config with templates checked and plugins loaded, or exit 2."""
    from dispatcher.runtime import load_runtime

    try:
        return load_runtime(ctx.obj["config"]).config
    except ConfigError as exc:
        _config_failed(exc)


def _store(ctx: click.Context) -> tuple[DispatcherFile, Store]:
    """``dispatcher.toml`` and the store it names; the other files may be mid-edit."""
    try:
        settings = load_dispatcher_file(ctx.obj["config"])
    except ConfigError as exc:
        _config_failed(exc)
    return settings, open_store(settings.store)


def _config_failed(exc: ConfigError) -> NoReturn:
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    sys.exit(2)


def _now() -> datetime:
    return datetime.now(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_dir",
    envvar="DISPATCHER_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Config directory (env DISPATCHER_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config_dir: Path) -> None:
    """Payment and overdue-debt reminders, sent within the contact policy."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_dir


@main.command()
@click.option(
    "--config",
    "config_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Config directory (overrides the global option).",
)
@click.pass_context
def run(ctx: click.Context, config_dir: Path | None) -> None:
    """Run the daemon in the foreground (systemd Type=notify)."""
    from dispatcher.daemon import Daemon
    from dispatcher.daemon.logs import setup_logging

    root = config_dir or ctx.obj["config"]
    ctx.obj["config"] = root
    try:
        daemon = Daemon(root)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        sys.exit(2)
    settings = daemon.runtime.config.dispatcher.log
    setup_logging(settings.format, settings.level)
    sys.exit(asyncio.run(daemon.run()))


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, directory: Path | None) -> None:
    """Validate config files, templates and channel settings; print every error."""
    from dispatcher.runtime import load_runtime

    root = directory or ctx.obj["config"]
    try:
        runtime = load_runtime(root)
    except ConfigError as exc:
        for problem in exc.problems:
            out.print(str(problem), markup=False)
        out.print(f"{len(exc.problems)} problem(s) in {root}", markup=False)
        sys.exit(1)
    config = runtime.config
    steps = sum(len(s.steps) for s in config.schedules.schedules.values())
    out.print(
        f"{root}: OK — {len(runtime.channels)} channel(s), "
        f"{len(config.schedules.schedules)} schedule(s) with {steps} step(s), "
        f"locales {', '.join(config.dispatcher.locales)}",
        markup=False,
    )


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--schedule", "default_schedule", help="Schedule for rows that name none.")
@click.option("--region", "default_region", help="Region for phone numbers without +, e.g. US.")
@click.option("--chunk", default=1000, show_default=True, help="Rows per transaction.")
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    default_schedule: str | None,
    default_region: str | None,
    chunk: int,
) -> None:
    """Load people and cases from CSV or JSON Lines. Bad rows are reported and skipped."""
    from dispatcher.intake import RowError, count_rows, parse_row, read_rows
    from dispatcher.store.api import CaseIn, PersonIn

    config = _config(ctx)
    store = open_store(config.store_url)
    schedules = list(config.schedules.schedules)
    errors: list[RowError] = []
    people: dict[str, PersonIn] = {}
    cases: list[CaseIn] = []
    seen_cases: dict[str, int] = {}
    kept = 0

    def flush() -> None:
        nonlocal people, cases
        if cases:
            store.upsert(list(people.values()), cases, _now())
        people, cases = {}, []

    total = count_rows(file)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("import", total=total)
        for number, row in read_rows(file):
            progress.advance(task)
            if isinstance(row, RowError):
                errors.append(row)
                continue
            parsed = parse_row(
                number,
                row,
                schedules=schedules,
                default_schedule=default_schedule,
                default_locale=config.dispatcher.fallback_locale,
                default_region=default_region,
            )
            if isinstance(parsed, list):
                errors.extend(parsed)
                continue
            if parsed.case.id in seen_cases:
                errors.append(
                    RowError(
                        number, "case_id", f"case already given in row {seen_cases[parsed.case.id]}"
                    )
                )
                continue
            seen_cases[parsed.case.id] = number
            people[parsed.person.id] = parsed.person
            cases.append(parsed.case)
            kept += 1
            if len(cases) >= chunk:
                flush()
        flush()
    store.close()
    for error in errors:
        err.print(str(error), markup=False)
    rejected = len({e.row for e in errors})
    out.print(f"imported {kept} row(s); rejected {rejected}", markup=False)
    if rejected:
        sys.exit(1)


def _parse_instant(text: str, zone: str) -> datetime:
    """An ISO date (midnight in ``zone``) or date-time (with offset, or in ``zone``) → UTC."""
    try:
        if len(text) == 10:
            return datetime.combine(
                date.fromisoformat(text), time(0), tzinfo=ZoneInfo(zone)
            ).astimezone(UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


@main.command()
@click.option("--case", "case_id", required=True, help="Case to remind about.")
@click.option("--channel", required=True, help="Configured channel name.")
@click.option("--template", required=True, help="Template name.")
@click.option("--at", "at_text", help="When (ISO date-time; default now). Policy still applies.")
@click.pass_context
def enqueue(
    ctx: click.Context, case_id: str, channel: str, template: str, at_text: str | None
) -> None:
    """Add one ad-hoc reminder for a case."""
    config, store = _store(ctx)
    if channel not in config.channels:
        _fail(f"unknown channel {channel!r} (configured: {', '.join(config.channels)})")
    case = store.get_case(case_id)
    if case is None:
        _fail(f"no case {case_id!r}")
    person = store.get_person(case.person_id)
    zone = (person.timezone if person else None) or config.fallback_timezone
    due = _parse_instant(at_text, zone) if at_text else _now()
    reminder_id = store.enqueue(
        NewReminder(
            case_id=case.id,
            person_id=case.person_id,
            schedule="adhoc",
            step=f"adhoc-{int(_now().timestamp() * 1000)}",
            channel=channel,
            template=template,
            due_at=due,
        ),
        _now(),
    )
    store.close()
    out.print(f"reminder {reminder_id} queued for {due:%Y-%m-%d %H:%M} UTC", markup=False)


EVENTS = (
    "paid",
    "plan",
    "hardship",
    "dispute",
    "resolve",
    "cease",
    "resume",
    "close",
    "opt-out",
    "opt-in",
)


@main.command()
@click.argument("case_id")
@click.argument("kind", type=click.Choice(EVENTS))
@click.option("--until", "until_text", help="For plan/hardship: pause until this date.")
@click.option("--channel", help="For opt-out/opt-in: the channel (default every channel).")
@click.option("--contact", help="For opt-out/opt-in: one address or number (default all).")
@click.option("--note", help="Free text kept with the event.")
@click.pass_context
def event(
    ctx: click.Context,
    case_id: str,
    kind: str,
    until_text: str | None,
    channel: str | None,
    contact: str | None,
    note: str | None,
) -> None:
    """Record what happened to a case: paid, plan --until, hardship --until, dispute,
    resolve, cease, resume, close, opt-out, opt-in."""
    config, store = _store(ctx)
    case = store.get_case(case_id)
    if case is None:
        _fail(f"no case {case_id!r}")
    now = _now()
    if kind in ("opt-out", "opt-in"):
        store.opt_out(
            case.person_id, channel or "*", contact, now=now, source="cli", clear=kind == "opt-in"
        )
        store.close()
        out.print(f"{kind} recorded for the person of case {case_id}", markup=False)
        return
    person = store.get_person(case.person_id)
    zone = (person.timezone if person else None) or config.fallback_timezone
    until = _parse_instant(until_text, zone) if until_text else None
    if kind in ("plan", "hardship") and until is None:
        _fail(f"{kind} needs --until DATE")
    try:
        updated = store.case_event(case_id, kind, now=now, until=until, source="cli", detail=note)
    except (ValueError, UnknownCase) as exc:
        _fail(str(exc))
    finally:
        store.close()
    paused = (
        f", paused until {updated.paused_until:%Y-%m-%d %H:%M} UTC" if updated.paused_until else ""
    )
    out.print(f"case {case_id}: {updated.state.value}{paused}", markup=False)


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Queue depth by state and channel, next due, deferrals by reason, unknown attempts."""
    _, store = _store(ctx)
    now = _now()
    report = store.status(now)
    store.close()
    states = sorted({s for s, _, _ in report.by_state_channel})
    channels = sorted({c for _, c, _ in report.by_state_channel})
    counts = {(s, c): n for s, c, n in report.by_state_channel}
    table = Table(title="reminders by state and channel")
    table.add_column("state", overflow="fold")
    for channel in channels:
        table.add_column(channel, justify="right")
    table.add_column("total", justify="right")
    for state in states:
        row = [str(counts.get((state, c), 0)) for c in channels]
        table.add_row(state, *row, str(sum(counts.get((state, c), 0) for c in channels)))
    out.print(table)
    next_due = f"{report.next_due:%Y-%m-%d %H:%M:%S} UTC" if report.next_due else "none"
    out.print(f"due now: {report.due_now}    next due: {next_due}", markup=False)
    if report.deferred_by_reason:
        reasons = Table(title="pending reminders by last reason")
        reasons.add_column("reason", overflow="fold")
        reasons.add_column("reminders", justify="right")
        for code, n in report.deferred_by_reason:
            reasons.add_row(code, str(n))
        out.print(reasons)
    if report.failures:
        failures = Table(title="failed attempts")
        for column in ("channel", "code", "attempts"):
            failures.add_column(column, overflow="fold")
        for channel, code, n in report.failures:
            failures.add_row(channel, code, str(n))
        out.print(failures)
    unknown = Table(title=f"attempts with unknown outcome ({len(report.unknown_attempts)})")
    for column in ("attempt", "reminder", "case", "channel", "to", "at"):
        unknown.add_column(column, overflow="fold")
    for item in report.unknown_attempts:
        unknown.add_row(
            item["id"][:12],
            str(item["reminder_id"]),
            item["case_id"],
            item["channel"],
            mask_contact(item["contact"]),
            f"{item['at']:%Y-%m-%d %H:%M}",
        )
    if report.unknown_attempts:
        out.print(unknown)
    else:
        out.print("attempts with unknown outcome: none", markup=False)


@main.command()
@click.argument("target")
@click.pass_context
def explain(ctx: click.Context, target: str) -> None:
    """The whole decision history of a case (or of the case of a reminder id), PII masked."""
    from dispatcher.admin.explain import render_history, zone_note

    settings, store = _store(ctx)
    case_id: str | None = target
    if store.get_case(target) is None and target.isdigit():
        case_id = store.case_of_reminder(int(target))
    if case_id is None or store.get_case(case_id) is None:
        store.close()
        _fail(f"no case or reminder {target!r}")
    history = store.case_history(case_id)
    store.close()
    focus = int(target) if target.isdigit() and target != case_id else None
    try:
        policy = load_config(ctx.obj["config"], check_templates=False).policy
        layers = " + ".join([f"preset {policy.preset}", *(f"overlay {o}" for o in policy.overlays)])
        policy_note = f"policy: {layers} + policy.toml (each reason names its rule in [brackets])"
    except ConfigError:
        policy_note = "policy: the config directory does not check now (see `dispatcher check`)"
    notes = (policy_note, zone_note(history, settings.fallback_timezone))
    render_history(out, history, focus=focus, notes=notes)


@main.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, destination: Path) -> None:
    """Copy the SQLite store to DESTINATION while the daemon runs (online-safe)."""
    config, store = _store(ctx)
    copy = getattr(store, "backup", None)
    if copy is None:
        store.close()
        _fail("backup is for SQLite stores; back up PostgreSQL with pg_dump")
    try:
        size = copy(destination)
    except (OSError, ValueError, RuntimeError) as exc:
        _fail(str(exc))
    finally:
        store.close()
    out.print(f"backed up {config.store} to {destination} ({size:,} bytes)", markup=False)


@main.command()
@click.option("--from", "source", required=True, help="Store URL to copy from.")
@click.option("--to", "target", required=True, help="Store URL of an empty store to copy to.")
def migrate(source: str, target: str) -> None:
    """Move a whole store to another database (e.g. SQLite → PostgreSQL), with counts and
    checksums per table. Stop the daemons first."""
    from dispatcher.store.transfer import transfer

    columns = (TextColumn("copying {task.description}"), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(table: str, rows: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=None)
            progress.advance(tasks[table], rows)

        try:
            reports = transfer(source, target, progress=advance)
        except ValueError as exc:
            _fail(str(exc))
    table = Table(title="store migration")
    for column in ("table", "rows (from)", "rows (to)", "checksum (from)", "checksum (to)", "ok"):
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(
            report.table,
            f"{report.source_rows:,}",
            f"{report.target_rows:,}",
            report.source_checksum,
            report.target_checksum,
            "yes" if report.ok else "NO",
        )
    out.print(table)
    if not all(r.ok for r in reports):
        _fail("checksums differ: nothing was committed to the target")
    out.print("migrated: every table's rows and checksums match", markup=False)


@main.command()
def plugins() -> None:
    """Installed plugins: their channel types, versions and where they were found."""
    from dispatcher.runtime.plugins import load_plugins

    loaded = load_plugins()
    out.print(f"plugins (entry-point group 'dispatcher'): {len(loaded.info)}")
    # One block per plugin rather than a table: paths stay whole at any terminal width.
    for info in loaded.info:
        out.print(
            f"\n{info.name}\n"
            f"  channel types  {', '.join(info.channels) or '-'}\n"
            f"  distribution   {info.distribution} {info.version}\n"
            f"  module         {info.module}\n"
            f"  found in       {info.location}",
            markup=False,
        )
    for problem in loaded.problems:
        err.print(problem, markup=False)
    if loaded.problems:
        sys.exit(1)


def _simulation_input(config: Config, data: Path) -> tuple[list[Any], list[Any], list[Any]]:
    """People, cases and opt-outs to simulate from a data file; bad rows are reported and
    left out, as ``import`` would."""
    from dispatcher.intake import RowError, parse_row, read_rows
    from dispatcher.store.api import CaseIn, PersonIn

    people: dict[str, PersonIn] = {}
    cases: list[CaseIn] = []
    for number, row in read_rows(data):
        if isinstance(row, RowError):
            err.print(f"{data}: {row} (left out)", markup=False)
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
                err.print(f"{data}: {error} (left out)", markup=False)
            continue
        people[parsed.person.id] = parsed.person
        cases.append(parsed.case)
    return list(people.values()), cases, []


@main.command()
@click.option("--days", default=30, show_default=True, help="Days of virtual time to run.")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="People and cases from this CSV or JSON Lines file instead of the store.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another config directory: show the contacts it adds, removes or moves.",
)
@click.option("--start", "start_text", help="Virtual start (ISO date or date-time; default now).")
@click.option(
    "--answer-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of calls that become a conversation.",
)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-timeline", is_flag=True, help="Leave out the per-case timeline.")
@click.pass_context
def simulate(
    ctx: click.Context,
    days: int,
    data: Path | None,
    against: Path | None,
    start_text: str | None,
    answer_rate: float,
    html_path: Path | None,
    no_timeline: bool,
) -> None:
    """Run the planner and the policy in virtual time: nothing is sent and the live store is
    not written. Shows each case's timeline, totals per day and hour-of-day charts."""
    from dispatcher.admin.simulate import simulate as run_simulation
    from dispatcher.admin.simulate_report import (
        compare,
        render_changes,
        render_terminal,
        write_html,
    )
    from dispatcher.runtime import Runtime, load_runtime

    def runtime_of(root: Path) -> Runtime:
        try:
            return load_runtime(root)
        except ConfigError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            sys.exit(2)

    runtime = runtime_of(ctx.obj["config"])
    zone = runtime.config.dispatcher.timezone
    start = _parse_instant(start_text, zone) if start_text else _now()
    people, cases, opt_outs = _simulation_input(runtime.config, data) if data else ([], [], [])
    source = None if data else runtime.config.store_url
    result = run_simulation(
        runtime,
        people,
        cases,
        start=start,
        days=days,
        answer_rate=answer_rate,
        opt_outs=opt_outs,
        source_url=source,
    )
    render_terminal(out, result, timeline=not no_timeline)
    if html_path is not None:
        write_html(html_path, result)
        out.print(f"wrote {html_path}", markup=False)
    if against is not None:
        other = run_simulation(
            runtime_of(against),
            people,
            cases,
            start=start,
            days=days,
            answer_rate=answer_rate,
            opt_outs=opt_outs,
            source_url=source,
        )
        render_changes(out, compare(result, other), str(ctx.obj["config"]), str(against))


@main.group()
def audit() -> None:
    """Compliance records: decisions and attempts, never deleted."""


@audit.command(name="export")
@click.option("--since", "since_text", required=True, help="From (ISO date or date-time).")
@click.option("--until", "until_text", required=True, help="Until, exclusive.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--unmasked", is_flag=True, help="Full contact points (operators only).")
@click.pass_context
def audit_export(
    ctx: click.Context, since_text: str, until_text: str, fmt: str, unmasked: bool
) -> None:
    """Every decision and attempt in [since, until), with the policy version and template."""
    from dispatcher.admin.audit import audit_records, write_export

    config = _runtime_config(ctx)
    zone = config.dispatcher.timezone
    since, until = _parse_instant(since_text, zone), _parse_instant(until_text, zone)
    store = open_store(config.store_url)
    try:
        rows = store.audit_rows(since, until)
    finally:
        store.close()
    sys.stdout.write(write_export(audit_records(rows, config, unmasked=unmasked), fmt))
