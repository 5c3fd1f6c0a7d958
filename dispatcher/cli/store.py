"""Commands on the store as a whole: ``backup`` (SQLite, online) and ``migrate`` (to another
database, checked table by table)."""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.progress import MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from dispatcher.cli.console import PROBLEMS, err, fail, out, print_json
from dispatcher.cli.loading import store_or_exit


@click.command()
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it exists.")
@click.pass_context
def backup(ctx: click.Context, destination: Path, force: bool) -> None:
    """Copy the SQLite store to DESTINATION while the daemon runs (online-safe). The copy is
    created 0600; an existing DESTINATION is kept unless --force."""
    if destination.exists() and not force:
        fail(f"{destination} exists: not replaced (--force to replace it)")
    if not destination.parent.is_dir():
        fail(f"{destination.parent} is not a directory: create it first")
    config, store = store_or_exit(ctx.obj["config"])
    copy = getattr(store, "backup", None)
    if copy is None:
        store.close()
        fail("backup is for SQLite stores; back up PostgreSQL with pg_dump")
    try:
        size = copy(destination)
    except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
        fail(f"backup to {destination} failed: {exc}")
    finally:
        store.close()
    out.print(f"backed up {config.store} to {destination} ({size:,} bytes)", markup=False)


@click.command()
@click.option("--from", "source", required=True, help="Store URL to copy from.")
@click.option("--to", "target", required=True, help="Store URL of an empty store to copy to.")
@click.option("--json", "as_json", is_flag=True, help="Each table's counts as one JSON object.")
def migrate(source: str, target: str, as_json: bool) -> None:
    """Move a whole store to another database (e.g. SQLite → PostgreSQL), with counts and
    checksums per table (exit 1 if they differ: nothing is committed). Stop the daemons
    first."""
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
            fail(str(exc))
    if as_json:
        print_json({"ok": all(r.ok for r in reports), "tables": [asdict(r) for r in reports]})
        if not all(r.ok for r in reports):
            sys.exit(PROBLEMS)
        return
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
        fail("checksums differ: nothing was committed to the target", code=PROBLEMS)
    out.print("migrated: every table's rows and checksums match", markup=False)
