"""Commands that read the store for people: ``status`` (the queue now) and ``explain`` (one
case's whole decision history)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from dispatcher.cli.console import fail, out, print_json
from dispatcher.cli.daemon_http import DaemonUnreachable, ask, local_url
from dispatcher.cli.instants import utc_now
from dispatcher.cli.loading import store_or_exit
from dispatcher.config import ConfigError, DispatcherFile, load_config
from dispatcher.config.dispatcher_file import RetryRule
from dispatcher.privacy import mask_contact
from dispatcher.store.api import CaseHistory, StatusReport
from dispatcher.terminal import cell, printable

DAEMON_TIMEOUT = 2.0  # seconds: status answers even when the daemon does not


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Queue depth by state and channel, next due, deferrals by reason, unknown attempts;
    and what the running daemon says of itself (its config version, its last reload)."""
    settings, store = store_or_exit(ctx.obj["config"])
    now = utc_now()
    report = store.status(now)
    arrangements = store.arrangement_counts()
    store.close()
    daemon = daemon_state(settings)
    if as_json:
        view = {**status_view(report), "arrangements": arrangements}
        print_json({"at": now, **view, "daemon": daemon})
        return
    _print_queue(report)
    by_state = ", ".join(f"{cell(s)} {n}" for s, n in sorted(arrangements.items()))
    out.print(f"arrangements: {by_state or 'none'}", markup=False)
    _print_unknown(report)
    out.print(printable(daemon_line(daemon)), markup=False)


def status_view(report: StatusReport) -> dict[str, Any]:
    """The store's status as JSON: every count, contact points masked."""
    return {
        "reminders": [
            {"state": s, "channel": c, "count": n} for s, c, n in report.by_state_channel
        ],
        "due_now": report.due_now,
        "next_due": report.next_due,
        "pending_by_reason": [{"reason": r, "count": n} for r, n in report.deferred_by_reason],
        "failures": [{"channel": c, "code": k, "count": n} for c, k, n in report.failures],
        "unknown": {
            "total": report.unknown_total,
            "by_channel": report.unknown_by_channel,
            "oldest": [
                {**item, "contact": mask_contact(item["contact"])}
                for item in report.unknown_attempts
            ],
        },
    }


def daemon_state(settings: DispatcherFile) -> dict[str, Any]:
    """What the daemon on this config's listener says of itself (``GET /-/status``), or why
    it was not asked or did not answer."""
    base = local_url(settings.http)
    if base is None:
        return {"asked": False, "reason": "[http] is disabled or its port is chosen at start"}
    try:
        code, body = ask(base, "GET", "/-/status", timeout=DAEMON_TIMEOUT)
    except DaemonUnreachable as exc:
        return {"asked": True, "url": base, "reachable": False, "error": str(exc)}
    if code != 200 or not isinstance(body, dict):
        return {"asked": True, "url": base, "reachable": False, "error": f"answered {code}"}
    return {"asked": True, "url": base, "reachable": True, **body}


def daemon_line(daemon: dict[str, Any]) -> str:
    if not daemon["asked"]:
        return f"daemon: not asked ({daemon['reason']})"
    if not daemon["reachable"]:
        return f"daemon at {daemon['url']}: not reachable ({daemon['error']})"
    last = daemon["last_reload"]
    line = f"daemon at {daemon['url']}: config {daemon['config']}"
    if last["source"] == "start":
        return line + f", loaded at start {_utc(last['at'])}"
    line += f", last reload {_utc(last['at'])} ({last['source']}): {last['result']}"
    if not last["ok"]:
        line += f", {len(last['problems'])} problem(s) (`dispatcher reload` lists them)"
    return line


def _utc(instant: str) -> str:
    return instant[:19].replace("T", " ") + " UTC"


def _print_queue(report: StatusReport) -> None:
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


def _print_unknown(report: StatusReport) -> None:
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
@click.option("--json", "as_json", is_flag=True, help="The history as one JSON object.")
@click.pass_context
def explain(ctx: click.Context, target: str, as_json: bool) -> None:
    """The whole decision history of a case (or of the case of a reminder id), PII masked."""
    from dispatcher.admin.explain import render_history, retry_notes, wishes_note, zone_note

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
    first = (*_policy_notes(ctx.obj["config"], history), wishes_note(history))
    retries = retry_notes(history, _retry_rules(settings))
    if as_json:
        from dispatcher.api.views import case_detail

        detail = case_detail(history, settings.fallback_timezone, personal_data=False)
        print_json({**detail.model_dump(mode="json"), "focus": focus, "notes": (*first, *retries)})
        return
    notes = (*first, zone_note(history, settings.fallback_timezone), *retries)
    render_history(out, history, focus=focus, notes=notes)


def _policy_notes(root: Path, history: CaseHistory) -> tuple[str, ...]:
    """The policy's layers, and the jurisdictions the person was judged under."""
    from dispatcher.admin.explain import jurisdiction_note

    try:
        policy = load_config(root, check_templates=False, secrets=False).policy
    except ConfigError:
        return ("policy: the config directory does not check now (see `dispatcher check`)",)
    layers = " + ".join([f"preset {policy.preset}", *(f"overlay {o}" for o in policy.overlays)])
    places = jurisdiction_note(history, policy)
    return (
        f"policy: {layers} + policy.toml (each reason names its rule in [brackets])",
        *([places] if places else []),
    )


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
