"""Commands that bring work in: ``import`` (people and cases from a file), ``enqueue`` (one
ad-hoc reminder) and ``event`` (what happened to a case)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from dispatcher.cli.console import PROBLEMS, err, fail, out
from dispatcher.cli.instants import parse_instant, utc_now
from dispatcher.cli.loading import config_or_exit, store_at_or_exit, store_or_exit
from dispatcher.policy.breathing_space import describe, moratorium_end
from dispatcher.policy.zones import local_zone
from dispatcher.store.api import NewReminder, Store, UnknownCase

if TYPE_CHECKING:
    from dispatcher.config import DispatcherFile
    from dispatcher.intake import RowError
    from dispatcher.model import Person


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--schedule", "default_schedule", help="Schedule for rows that name none.")
@click.option("--region", "default_region", help="Region for phone numbers without +, e.g. US.")
@click.option(
    "--encoding",
    help="The file's encoding if not UTF-8 (UTF-8 and UTF-16 with a byte-order mark are "
    "recognised), e.g. cp1252.",
)
@click.option("--chunk", default=2000, show_default=True, help="Rows per transaction.")
@click.option(
    "--jobs",
    type=int,
    help="Processes that check rows (default: one per core, up to 4, for a file over 4 MB).",
)
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    default_schedule: str | None,
    default_region: str | None,
    encoding: str | None,
    chunk: int,
    jobs: int | None,
) -> None:
    """Load people and cases from CSV or JSON Lines. Bad rows are reported and skipped."""
    from dispatcher.intake import FileProblem, Importer, RowFile
    from dispatcher.intake.checking import RowRules, checked_rows
    from dispatcher.intake.decoding import UnknownEncoding

    config = config_or_exit(ctx.obj["config"])
    if chunk < 1 or (jobs is not None and jobs < 1):
        fail("--chunk and --jobs must be at least 1")
    try:
        rows = RowFile(file, encoding)
    except (UnknownEncoding, OSError) as exc:
        fail(f"{file}: {exc}")
    store = store_at_or_exit(config.store_url)
    rules = RowRules(
        schedules=tuple(config.schedules.schedules),
        default_schedule=default_schedule,
        default_locale=config.dispatcher.fallback_locale,
        default_region=default_region,
    )

    def report(error: RowError) -> None:
        err.print(str(error), markup=False, highlight=False)

    importer = Importer(
        store,
        now=utc_now,
        on_error=report,
        fallback_zone=config.dispatcher.fallback_timezone,
        size=chunk,
    )
    workers = jobs or (min(os.cpu_count() or 1, 4) if rows.size >= PARALLEL_FROM else 1)
    try:
        with Progress(*_COLUMNS, console=err, transient=False) as progress:
            task = progress.add_task("import", total=rows.size)
            for count, (number, checked) in enumerate(checked_rows(rows, rules, workers), 1):
                importer.add(number, checked)
                if count % 1000 == 0:
                    progress.update(task, completed=rows.position())
            importer.close()
            progress.update(task, completed=rows.size)
        store.refresh_statistics()  # claims and planning are planned for what is there now
    except FileProblem as exc:
        importer.close()
        fail(f"{file}: {exc} (imported {importer.kept} row(s) before it)", code=PROBLEMS)
    finally:
        rows.close()
        store.close()
    out.print(f"imported {importer.kept} row(s); rejected {importer.rejected}", markup=False)
    if importer.rejected:
        sys.exit(PROBLEMS)


# Below this size checking rows in this process is quicker than starting workers.
PARALLEL_FROM = 4_000_000


# The progress of an import is shown by the bytes read: a record may span lines, and counting
# records first would read the whole file twice.
_COLUMNS = (
    TextColumn("importing"),
    BarColumn(),
    DownloadColumn(),
    TimeRemainingColumn(),
)


@click.command()
@click.option("--case", "case_id", required=True, help="Case to remind about.")
@click.option("--channel", required=True, help="Configured channel name.")
@click.option("--template", required=True, help="Template name.")
@click.option("--at", "at_text", help="When (ISO date-time; default now). Policy still applies.")
@click.pass_context
def enqueue(
    ctx: click.Context, case_id: str, channel: str, template: str, at_text: str | None
) -> None:
    """Add one ad-hoc reminder for a case."""
    config, store = store_or_exit(ctx.obj["config"])
    if channel not in config.channels:
        fail(f"unknown channel {channel!r} (configured: {', '.join(config.channels)})")
    case = store.get_case(case_id)
    if case is None:
        fail(f"no case {case_id!r}")
    person = store.get_person(case.person_id)
    _template_or_exit(ctx.obj["config"], config, channel, template, person)
    zone = local_zone(person, config.fallback_timezone)
    due = parse_instant(at_text, zone) if at_text else utc_now()
    reminder_id = store.enqueue(
        NewReminder(
            case_id=case.id,
            person_id=case.person_id,
            schedule="adhoc",
            step=f"adhoc-{int(utc_now().timestamp() * 1000)}",
            channel=channel,
            template=template,
            due_at=due,
        ),
        utc_now(),
    )
    store.close()
    out.print(f"reminder {reminder_id} queued for {due:%Y-%m-%d %H:%M} UTC", markup=False)


def _template_or_exit(
    root: Path, config: DispatcherFile, channel: str, name: str, person: Person | None
) -> None:
    """Exit 1 unless ``templates/<channel>/`` has ``name`` for the person's locale (or its
    fallback): a reminder naming no template would only fail when it is due."""
    from dispatcher.config.templates import TemplateNotFound, TemplateSet

    templates = TemplateSet(
        Path(root) / "templates", locales=config.locales, fallback_locale=config.fallback_locale
    )
    locale = person.template_locale if person else config.fallback_locale
    try:
        templates.resolve(channel, name, locale)
    except TemplateNotFound as exc:
        fail(f"unknown template: {exc}")


EVENTS = (
    "paid",
    "plan",
    "hardship",
    "dispute",
    "resolve",
    "cease",
    "resume",
    "close",
    "bankrupt",
    "deceased",
    "breathing-space",
    "breathing-space-end",
    "opt-out",
    "opt-in",
    "consent",
    "consent-revoked",
)


@click.command()
@click.argument("case_id")
@click.argument("kind", type=click.Choice(EVENTS))
@click.option(
    "--until",
    "until_text",
    help="For plan/hardship: pause until this date; for breathing-space: its end (default "
    "60 days on).",
)
@click.option(
    "--mental-health-crisis",
    "crisis",
    is_flag=True,
    help="For breathing-space: a mental-health crisis moratorium (no end until --crisis-ends).",
)
@click.option(
    "--crisis-ends",
    "crisis_ends_text",
    help="For breathing-space --mental-health-crisis: the day the crisis treatment ends (the "
    "moratorium ends 30 days later).",
)
@click.option(
    "--channel", help="For opt-out/opt-in: the channel (default every channel); for consent: it."
)
@click.option("--contact", help="For opt-out/opt-in/consent: one address or number (default all).")
@click.option("--note", help="Free text kept with the event.")
@click.pass_context
def event(
    ctx: click.Context,
    case_id: str,
    kind: str,
    until_text: str | None,
    crisis: bool,
    crisis_ends_text: str | None,
    channel: str | None,
    contact: str | None,
    note: str | None,
) -> None:
    """Record what happened to a case: paid, plan --until, hardship --until, dispute,
    resolve, cease, resume, close, bankrupt, deceased, breathing-space [--until |
    --mental-health-crisis [--crisis-ends]], breathing-space-end, opt-out, opt-in, consent
    --channel, consent-revoked --channel (--note: what the consent rests on)."""
    config, store = store_or_exit(ctx.obj["config"])
    case = store.get_case(case_id)
    if case is None:
        fail(f"no case {case_id!r}")
    now = utc_now()
    if kind in ("opt-out", "opt-in"):
        store.opt_out(
            case.person_id, channel or "*", contact, now=now, source="cli", clear=kind == "opt-in"
        )
        store.close()
        out.print(f"{kind} recorded for the person of case {case_id}", markup=False)
        return
    if kind in ("consent", "consent-revoked"):
        _consent(store, config, case.person_id, kind, (channel, contact), note)
        out.print(f"{kind} recorded for the person of case {case_id}", markup=False)
        return
    person = store.get_person(case.person_id)
    zone = local_zone(person, config.fallback_timezone)
    until = parse_instant(until_text, zone) if until_text else None
    if kind in ("plan", "hardship") and until is None:
        fail(f"{kind} needs --until DATE")
    if (crisis or crisis_ends_text) and kind != "breathing-space":
        fail("--mental-health-crisis and --crisis-ends are for breathing-space only")
    if kind == "breathing-space":
        crisis_ends = parse_instant(crisis_ends_text, zone) if crisis_ends_text else None
        if crisis_ends is not None and not crisis:
            fail("--crisis-ends needs --mental-health-crisis")
        try:
            until = moratorium_end(now, until=until, crisis=crisis, crisis_ends=crisis_ends)
        except ValueError as exc:
            fail(str(exc))
        kind = "breathing-space-crisis" if crisis else kind
    try:
        updated = store.case_event(case_id, kind, now=now, until=until, source="cli", detail=note)
    except (ValueError, UnknownCase) as exc:
        fail(str(exc))
    finally:
        store.close()
    paused = (
        f", paused until {updated.paused_until:%Y-%m-%d %H:%M} UTC" if updated.paused_until else ""
    )
    space = f"; {describe(updated.breathing_space)}" if updated.breathing_space else ""
    out.print(f"case {case_id}: {updated.state.value}{paused}{space}", markup=False)


def _consent(
    store: Store,
    config: DispatcherFile,
    person_id: str,
    kind: str,
    where: tuple[str | None, str | None],
    note: str | None,
) -> None:
    """Record consent (or its revocation) to a channel on one contact point or all."""
    channel, contact = where
    if not channel or channel not in config.channels:
        store.close()
        known = ", ".join(config.channels) or "none configured"
        fail(f"{kind} needs --channel, one of the configured channels ({known})")
    try:
        store.consent(
            person_id,
            channel,
            contact,
            now=utc_now(),
            source="cli",
            revoke=kind == "consent-revoked",
            detail=note,
        )
    finally:
        store.close()
