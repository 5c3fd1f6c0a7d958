"""``dispatcher audit``: the compliance records, exported."""

from __future__ import annotations

import sys

import click

from dispatcher.cli.instants import parse_instant
from dispatcher.cli.loading import runtime_or_exit, store_at_or_exit


@click.group()
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

    config = runtime_or_exit(ctx.obj["config"]).config
    zone = config.dispatcher.timezone
    since, until = parse_instant(since_text, zone), parse_instant(until_text, zone)
    store = store_at_or_exit(config.store_url)
    try:
        rows = store.audit_rows(since, until)
    finally:
        store.close()
    sys.stdout.write(write_export(audit_records(rows, config, unmasked=unmasked), fmt))
