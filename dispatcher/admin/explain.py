"""``explain``: a case's whole story for a compliance officer, with personal data masked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.console import Console
from rich.table import Table

from dispatcher.config import PolicyFile
from dispatcher.config.dispatcher_file import RetryRule
from dispatcher.model import ContactKind, ContactPoint, ReminderState
from dispatcher.policy.breathing_space import describe
from dispatcher.privacy import mask, mask_contact, mask_name
from dispatcher.store.api import CaseHistory
from dispatcher.terminal import cell, printable

# Events whose detail is the arrangement's or payment's own story (amounts, dates, reasons),
# written by the store: shown. Other events' notes are free text from the lender: not.
ARRANGEMENT_EVENTS = ("arrangement", "payment")


def _line(point: ContactPoint) -> str:
    """``, work line`` after a phone number's status (``, line not known``): which limits
    count it (209 CMR 18.16)."""
    if point.kind is not ContactKind.PHONE:
        return ""
    return f", {point.line.value} line" if point.line else ", line not known"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def timeline(history: CaseHistory) -> list[tuple[datetime, int | None, str, str]]:
    """Every event, decision and attempt of the case in time order:
    (instant, reminder id or None, what, detail)."""
    rows: list[tuple[datetime, int | None, str, str]] = []
    for event in history.events:
        until = f" until {_when(event['until'])}" if event["until"] else ""
        detail = f"by {event['source']}{until}"
        if event["kind"].startswith(ARRANGEMENT_EVENTS) and event.get("detail"):
            detail += f": {event['detail']}"
        rows.append((event["at"], None, f"event {event['kind']}", detail))
    for decision in history.decisions:
        verdict = decision["verdict"]
        detail = "; ".join(
            f"{code}: {text}" + (f" [{rule[0]}]" if rule else "")
            for code, text, *rule in decision["reasons"]
        )
        if decision["until"]:
            detail = f"until {_when(decision['until'])} UTC" + (f" — {detail}" if detail else "")
        if decision["flags"]:
            detail += f" [{decision['flags']}]"
        rows.append((decision["at"], decision["reminder_id"], f"decision {verdict}", detail))
    for wishes in history.wishes:
        if wishes.set_at is not None:
            detail = f"by {wishes.source}: {wishes.describe()}"
            rows.append((wishes.set_at, None, "event wishes", detail))
    for attempt in history.attempts:
        to = mask(attempt["contact_kind"], attempt["contact"])
        parts = [f"to {to}"]
        if attempt["error_code"]:
            parts.append(f"code {attempt['error_code']}")
        if attempt["detail"]:
            parts.append(str(attempt["detail"]))
        rows.append(
            (
                attempt["finished_at"] or attempt["at"],
                attempt["reminder_id"],
                f"attempt {attempt['outcome']}",
                ", ".join(parts),
            )
        )
    rows.sort(key=lambda r: (r[0], 0 if r[2].startswith("event") else 1))
    return rows


def zone_note(history: CaseHistory, fallback: str) -> str:
    """The zones the policy judges this person in, and why; and the one the planner reads
    the schedule's ``at`` times in (the same resolution)."""
    from dispatcher.policy.zones import person_zones

    choice = person_zones(history.person, fallback)
    why = {
        "person": "the person's own time zone",
        "phone": "from the phone numbers on file",
        "address": "from the postal address on file",
        "phone+address": "from the phone numbers and postal address on file",
        "fallback": "nothing on file gives a zone: the configured fallback zone (tz_fallback)",
    }[choice.source]
    rule = " (a contact must be allowed in every one)" if len(choice.zones) > 1 else ""
    return (
        f"time zone used: {', '.join(choice.zones)} — {why}{rule}; "
        f"steps are planned at their `at` time in {choice.at_zone}"
    )


def jurisdiction_note(history: CaseHistory, policy: PolicyFile) -> str | None:
    """The jurisdictions of ``policy.toml`` the person is in, and which address or number
    put them there; None when the policy defines none."""
    from dispatcher.policy.jurisdictions import person_places, reading_of

    if not policy.jurisdictions:
        return None
    reading = reading_of(
        policy.jurisdictions, policy.default_jurisdiction, person_places(history.person)
    )
    flag = " [jurisdiction_default]" if reading.default else ""
    consents = ", ".join(
        c.channel + (f" {mask_contact(c.contact)}" if c.contact else "")
        for c in history.person.consents
    )
    return (
        f"jurisdictions: {reading.describe()}{flag} (the strictest reading of them all "
        f"applies); consent on file: {consents or 'none'}"
    )


def wishes_note(history: CaseHistory) -> str:
    """The person's own wishes in force, which the policy holds every contact to (reason
    ``preference``), and the template locale they choose."""
    person = history.person
    wishes = person.wishes
    if not wishes:
        return "wishes of the person: none on file"
    return (
        f"wishes of the person: {wishes.describe()}{wishes.origin()}; templates in "
        f"{person.template_locale} (deferrals and suppressions by them say preference)"
    )


def arrangement_lines(history: CaseHistory) -> list[str]:
    """Each arrangement of the case: its kind, state (and why it ended) and instalments."""
    currency = history.case.currency
    lines = []
    for arrangement in history.arrangements:
        ended = f" ({arrangement.reason})" if arrangement.reason else ""
        parts = "; ".join(
            f"{i.number}: {i.amount} {currency} by {i.due}, paid {i.paid}"
            + (" (settled)" if i.settled else "")
            for i in arrangement.instalments
        )
        lines.append(
            f"arrangement {arrangement.id}, {arrangement.kind} made "
            f"{_when(arrangement.created_at)} UTC: {arrangement.state.value}{ended} — {parts}"
        )
    return lines


def retry_notes(history: CaseHistory, rules: Mapping[str, RetryRule]) -> list[str]:
    """For each pending reminder a temporary refusal sent back to the queue: when its next
    try is and why (the refusal, and the channel's long retries)."""
    notes: list[str] = []
    for reminder in history.reminders:
        reason = history.reminder_reasons.get(reminder.id) or ""
        if reminder.state is not ReminderState.PENDING or reminder.tries < 1 or not reason:
            continue
        rule = rules.get(reminder.channel)
        how = f"; {reminder.channel} retries {rule.describe()}" if rule else ""
        notes.append(
            f"reminder {reminder.id}: next try {_when(reminder.due_at)} UTC, try "
            f"{reminder.tries + 1}, after a temporary refusal ({reason}){how}"
        )
    return notes


def render_history(
    console: Console,
    history: CaseHistory,
    *,
    focus: int | None = None,
    notes: tuple[str, ...] = (),
) -> None:
    person, case = history.person, history.case
    console.print(
        printable(
            f"case {case.id}: {case.state.value}, {case.amount} {case.currency} due "
            f"{case.due_date}, schedule {case.schedule}"
            + (f", paused until {_when(case.paused_until)} UTC" if case.paused_until else "")
            + (f"; {describe(case.breathing_space)}" if case.breathing_space else "")
        ),
        markup=False,
    )
    contacts = ", ".join(
        f"{c.kind.value} {mask(c.kind, c.value)} ({c.status}{_line(c)})" for c in person.contacts
    )
    outs = (
        ", ".join(
            o.channel + (f" {mask_contact(o.contact)}" if o.contact else "")
            for o in person.opt_outs
        )
        or "none"
    )
    console.print(
        printable(
            f"person {person.id}: {mask_name(person.name)}, locale {person.locale}, "
            f"time zone {person.timezone or '(not on file)'}"
        ),
        markup=False,
    )
    console.print(printable(f"contacts: {contacts or 'none'}; opt-outs: {outs}"), markup=False)
    for line in arrangement_lines(history):
        console.print(printable(line), markup=False)
    for note in notes:
        console.print(printable(note), markup=False)

    reminders = Table(title="reminders")
    for column in (
        "id",
        "step",
        "channel",
        "template",
        "planned for (UTC)",
        "due (UTC)",
        "state",
        "last reason",
    ):
        reminders.add_column(column, overflow="fold")
    for reminder in history.reminders:
        if focus is not None and reminder.id != focus:
            continue
        reminders.add_row(
            *map(
                cell,
                (
                    reminder.id,
                    reminder.step,
                    reminder.channel,
                    reminder.template,
                    _when(reminder.original_due_at),
                    _when(reminder.due_at),
                    reminder.state.value,
                    history.reminder_reasons.get(reminder.id) or "",
                ),
            )
        )
    console.print(reminders)

    table = Table(title="history (UTC)")
    for column in ("when", "reminder", "what", "detail"):
        table.add_column(column, overflow="fold")
    for when, reminder_id, what, detail in timeline(history):
        if focus is not None and reminder_id not in (focus, None):
            continue
        # Cells, not markup: rule names and flags are written in [brackets].
        table.add_row(*map(cell, (_when(when), reminder_id or "", what, detail)))
    console.print(table)
