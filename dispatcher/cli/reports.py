"""Commands that read the store for people: ``status`` (the queue now) and ``explain`` (one
case's whole decision history)."""

from __future__ import annotations

import click
from rich.table import Table

from dispatcher.cli.console import fail, out
from dispatcher.cli.instants import utc_now
from dispatcher.cli.loading import store_or_exit
from dispatcher.config import ConfigError, DispatcherFile, load_config
from dispatcher.config.dispatcher_file import RetryRule
from dispatcher.privacy import mask_contact
from dispatcher.terminal import cell


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Queue depth by state and channel, next due, deferrals by reason, unknown attempts."""
    _, store = store_or_exit(ctx.obj["config"])
    now = utc_now()
    report = store.status(now)
    arrangements = store.arrangement_counts()
    store.close()
    states = sorted({s for s, _, _ in report.by_state_channel})
    channels = sorted({c for _, c, _ in report.by_state_channel})
    counts = {(s, c): n for s, c, n in report.by_state_channel}
    table = Table(title="reminders by state and channel")
    table.add_column("state", overflow="fold")
    for channel in channels:
        table.add_column(cell(channel), justify="right")
    table.add_column("total", justify="right")
    for state in states:
        row = [str(counts.get((state, c), 0)) for c in channels]
        table.add_row(cell(state), *row, str(sum(counts.get((state, c), 0) for c in channels)))
    out.print(table)
    next_due = f"{report.next_due:%Y-%m-%d %H:%M:%S} UTC" if report.next_due else "none"
    out.print(f"due now: {report.due_now}    next due: {next_due}", markup=False)
    by_state = ", ".join(f"{cell(s)} {n}" for s, n in sorted(arrangements.items()))
    out.print(f"arrangements: {by_state or 'none'}", markup=False)
    if report.deferred_by_reason:
        reasons = Table(title="pending reminders by last reason")
        reasons.add_column("reason", overflow="fold")
        reasons.add_column("reminders", justify="right")
        for code, n in report.deferred_by_reason:
            reasons.add_row(cell(code), str(n))
        out.print(reasons)
    if report.failures:
        failures = Table(title="failed attempts")
        for column in ("channel", "code", "attempts"):
            failures.add_column(column, overflow="fold")
        for channel, code, n in report.failures:
            failures.add_row(cell(channel), cell(code), str(n))
        out.print(failures)
    by_channel = ", ".join(f"{cell(c)} {n}" for c, n in report.unknown_by_channel.items())
    title = f"attempts with unknown outcome: {report.unknown_total} ({by_channel})"
    if report.unknown_total > len(report.unknown_attempts):
        title += f"; the oldest {len(report.unknown_attempts)} (`dispatcher unknown list`: all)"
    unknown = Table(title=title)
    for column in ("attempt", "reminder", "case", "channel", "to", "at"):
        unknown.add_column(column, overflow="fold")
    for item in report.unknown_attempts:
        unknown.add_row(
            *map(
                cell,
                (
                    item["id"][:12],
                    item["reminder_id"],
                    item["case_id"],
                    item["channel"],
                    mask_contact(item["contact"]),
                    f"{item['at']:%Y-%m-%d %H:%M}",
                ),
            )
        )
    if report.unknown_attempts:
        out.print(unknown)
    else:
        out.print("attempts with unknown outcome: none", markup=False)


@click.command()
@click.argument("target")
@click.pass_context
def explain(ctx: click.Context, target: str) -> None:
    """The whole decision history of a case (or of the case of a reminder id), PII masked."""
    from dispatcher.admin.explain import render_history, retry_notes, zone_note

    settings, store = store_or_exit(ctx.obj["config"])
    case_id: str | None = target
    if store.get_case(target) is None and target.isdigit():
        case_id = store.case_of_reminder(int(target))
    if case_id is None or store.get_case(case_id) is None:
        store.close()
        fail(f"no case or reminder {target!r}")
    history = store.case_history(case_id)
    store.close()
    focus = int(target) if target.isdigit() and target != case_id else None
    try:
        policy = load_config(ctx.obj["config"], check_templates=False, secrets=False).policy
        layers = " + ".join([f"preset {policy.preset}", *(f"overlay {o}" for o in policy.overlays)])
        policy_note = f"policy: {layers} + policy.toml (each reason names its rule in [brackets])"
    except ConfigError:
        policy_note = "policy: the config directory does not check now (see `dispatcher check`)"
    notes = (
        policy_note,
        zone_note(history, settings.fallback_timezone),
        *retry_notes(history, _retry_rules(settings)),
    )
    render_history(out, history, focus=focus, notes=notes)


def _retry_rules(settings: DispatcherFile) -> dict[str, RetryRule]:
    """Each channel's long retries, with its plugin's defaults when the plugin loads."""
    from dispatcher.runtime.plugins import load_plugins

    plugins = load_plugins()
    rules: dict[str, RetryRule] = {}
    for name, channel in settings.channels.items():
        try:
            defaults = plugins.channel_class(channel.plugin).retry_defaults
        except KeyError:
            defaults = {}
        rules[name] = settings.retry_rule(name, defaults)
    return rules
