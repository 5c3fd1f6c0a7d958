"""``dispatcher unknown``: the attempts whose outcome is unknown (a crash between hand-off and
record), listed, and resolved by an operator's decision, recorded with its reason for audit."""

from __future__ import annotations

import json

import click

from dispatcher.admin.unknowns import PAGE, Selection, unknown_view
from dispatcher.cli.console import err, fail, out
from dispatcher.cli.instants import parse_instant, utc_now
from dispatcher.cli.loading import store_or_exit
from dispatcher.store.unknown_api import Resolution, UnknownCursor
from dispatcher.terminal import printable


@click.group()
def unknown() -> None:
    """Attempts whose outcome is unknown: list them, resolve them."""


@unknown.command("list")
@click.option("--channel", help="Only this channel's.")
@click.option("--since", "since_text", help="Only those claimed at or after (ISO date or time).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def list_(ctx: click.Context, channel: str | None, since_text: str | None, as_json: bool) -> None:
    """Every attempt whose outcome is unknown, oldest first, addresses masked."""
    settings, store = store_or_exit(ctx.obj["config"])
    if channel is not None and channel not in settings.channels:
        fail(f"unknown channel {channel!r} (configured: {', '.join(settings.channels)})")
    since = parse_instant(since_text, settings.timezone) if since_text else None
    after: UnknownCursor | None = None
    listed = 0
    while True:
        rows = store.unknown_attempts(channel, since, after, PAGE)
        lines = []
        for row in rows:
            view = unknown_view(row)
            lines.append(
                json.dumps(view, ensure_ascii=False)
                if as_json
                else f"{view['attempt_id']}  {view['channel']}  case {view['case_id']}  "
                f"to {view['to']}  at {row.at:%Y-%m-%d %H:%M:%S} UTC"
            )
        if lines:  # a page at a time: printing 10,000 lines one by one takes seconds
            click.echo("\n".join(printable(line) for line in lines))
        listed += len(rows)
        if len(rows) < PAGE:
            break
        after = UnknownCursor(rows[-1].at, rows[-1].attempt_id)
    store.close()
    if not as_json:
        err.print(f"{listed} attempts with unknown outcome", markup=False)


@unknown.command()
@click.option(
    "--sent", "resolution", flag_value=Resolution.SENT.value, help="It reached the provider."
)
@click.option(
    "--not-sent", "resolution", flag_value=Resolution.NOT_SENT.value, help="It never left."
)
@click.option(
    "--resend",
    "resolution",
    flag_value=Resolution.RESEND.value,
    help="Send it again, accepting that it may be a duplicate.",
)
@click.option("--all", "every", is_flag=True, help="Every unknown attempt.")
@click.option("--channel", help="Every unknown attempt of this channel.")
@click.option("--reason", required=True, help="Why: recorded for audit with the decision.")
@click.argument("ids", nargs=-1)
@click.pass_context
def resolve(
    ctx: click.Context,
    resolution: str | None,
    every: bool,
    channel: str | None,
    reason: str,
    ids: tuple[str, ...],
) -> None:
    """Resolve unknown attempts (IDS, --all or --channel) as --sent, --not-sent or --resend.
    An attempt already resolved is left alone: running it again changes nothing."""
    if resolution is None:
        fail("say what became of them: --sent, --not-sent or --resend")
    if sum((every, channel is not None, bool(ids))) != 1:
        fail("name the attempts: attempt IDS, --all or --channel C (one of them)")
    if not reason.strip():
        fail("--reason must say why (it is recorded for audit)")
    settings, store = store_or_exit(ctx.obj["config"])
    if channel is not None and channel not in settings.channels:
        fail(f"unknown channel {channel!r} (configured: {', '.join(settings.channels)})")
    selection = Selection(ids=ids or None, channel=channel)
    resolved = 0
    for page in selection.pages():
        done = store.resolve_unknown(
            **page,
            resolution=Resolution(resolution),
            reason=reason.strip(),
            source="cli",
            now=utc_now(),
        )
        resolved += len(done)
        if selection.done(done):
            break
    store.close()
    skipped = len(set(ids)) - resolved if ids else 0
    note = f"; {skipped} not unknown (already resolved, or no such attempt)" if skipped else ""
    out.print(f"{resolved} attempts resolved as {resolution}{note}", markup=False)
