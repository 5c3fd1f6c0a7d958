"""``dispatcher check``: validate a config directory as the daemon would load it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from dispatcher.cli.console import PROBLEMS, fail, out, print_json
from dispatcher.config import ConfigError
from dispatcher.terminal import printable

if TYPE_CHECKING:
    from dispatcher.planner.changes import ScheduleChange
    from dispatcher.planner.review import Review
    from dispatcher.runtime import Runtime


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Leave secret references unresolved (on a machine without the credentials, e.g. CI).",
)
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
@click.pass_context
def check(ctx: click.Context, directory: Path | None, no_secrets: bool, as_json: bool) -> None:
    """Validate config files, templates and channel settings; print every error (exit 1 if
    any). When the store can be read, list what the schedules would change in what is
    planned."""
    from dispatcher.runtime import load_runtime

    root = directory or ctx.obj["config"]
    if not Path(root).is_dir():
        fail(f"{root}: no such config directory")
    try:
        runtime = load_runtime(root, secrets=not no_secrets)
    except ConfigError as exc:
        problems = [str(problem) for problem in exc.problems]
        if as_json:
            print_json({"directory": str(root), "ok": False, "problems": problems})
        else:
            for problem in problems:
                out.print(printable(problem), markup=False)
            out.print(printable(f"{len(problems)} problem(s) in {root}"), markup=False)
        sys.exit(PROBLEMS)
    config = runtime.config
    schedules = config.schedules.schedules
    steps = sum(len(s.steps) for s in schedules.values())
    changes = planned_changes(runtime)
    if as_json:
        print_json(
            {
                "directory": str(root),
                "ok": True,
                "problems": [],
                "version": runtime.version,
                "channels": list(runtime.channels),
                "schedules": {name: len(s.steps) for name, s in schedules.items()},
                "locales": list(config.dispatcher.locales),
                "store": changes,
            }
        )
        return
    out.print(
        printable(
            f"{root}: OK — {len(runtime.channels)} channel(s), "
            f"{len(schedules)} schedule(s) with {steps} step(s), "
            f"locales {', '.join(config.dispatcher.locales)}"
        ),
        markup=False,
    )
    for line in changes:
        out.print(printable(line), markup=False)


SHOWN = 20  # planned reminders listed per schedule and kind; the rest are counted


def planned_changes(runtime: Runtime) -> list[str]:
    """What the schedules would change in the store once loaded (the store is only read,
    and only when it exists at this program's schema version)."""
    from dispatcher.planner.changes import reload_changes
    from dispatcher.store import open_store
    from dispatcher.store.schema import SCHEMA_VERSION

    url = runtime.config.dispatcher.store
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return ["store: not created yet, nothing planned to compare with"]
    try:
        store = open_store(url, migrate=False)
    except Exception as exc:  # check still validates the files when the store is away
        return [f"store: not read ({type(exc).__name__}), planned reminders not compared"]
    try:
        version = store.schema_version()
        if version != SCHEMA_VERSION:
            return [f"store: at schema version {version}; compared once the daemon upgrades it"]
        changes = reload_changes(
            store, runtime.config.schedules, runtime.config.dispatcher.fallback_timezone
        )
    except Exception as exc:
        return [f"store: not read ({type(exc).__name__}), planned reminders not compared"]
    finally:
        store.close()
    if changes is None:
        return ["store: no case planned yet, nothing planned to compare with"]
    if not changes:
        return ["store: the schedules are as the cases were planned with them"]
    lines = [f"store: {len(changes)} schedule(s) changed since the cases were planned"]
    for change in changes:
        lines.extend(_change_lines(change))
    return lines


def _change_lines(change: ScheduleChange) -> list[str]:
    name = change.name
    lines = [
        f"  {name}: step {k} added ({v}): planned for the cases that have not passed it"
        for k, v in change.added.items()
    ]
    lines += [f"  {name}: step {k} removed ({v})" for k, v in change.removed.items()]
    lines += [f"  {name}: step {k} edited ({a} -> {b})" for k, (a, b) in change.edited.items()]
    for kind, reviews in (("cancelled (step gone)", change.cancelled), ("moved", change.moved)):
        if not reviews:
            continue
        lines.append(f"  {name}: {len(reviews)} planned reminder(s) would be {kind}:")
        for review in reviews[:SHOWN]:
            lines.append(f"    {_reminder_line(review)}")
        if len(reviews) > SHOWN:
            lines.append(f"    … and {len(reviews) - SHOWN} more")
    if not (change.added or change.removed or change.edited or change.cancelled or change.moved):
        lines.append(f"  {name}: no planned reminder moves or is cancelled")
    return lines


def _reminder_line(review: Review) -> str:
    reminder, zone = review.reminder, ZoneInfo(review.zone)
    before = f"{reminder.planned_at.astimezone(zone):%Y-%m-%d %H:%M} {reminder.channel}"
    if review.change.due_at is None:
        return f"case {reminder.case_id} step {reminder.step}: {before} ({review.zone})"
    after = f"{review.change.due_at.astimezone(zone):%Y-%m-%d %H:%M} {review.change.channel}"
    return f"case {reminder.case_id} step {reminder.step}: {before} -> {after} ({review.zone})"
