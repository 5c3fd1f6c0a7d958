"""What ``simulate`` shows: per-case timelines, totals per channel per day, hour-of-day charts
in the person's local time (terminal and a self-contained HTML page), and the difference
between two configs. Personal data never appears: cases and people by id only."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from dispatcher.admin.simulate import Contact, SimulationResult, per_jurisdiction
from dispatcher.charts import PALETTE, hour_of_day_bars
from dispatcher.policy import Policy
from dispatcher.policy.week import hour_shares
from dispatcher.privacy import open_private
from dispatcher.terminal import cell

BAR = "█"


def hour_counts(result: SimulationResult) -> dict[str, list[int]]:
    """channel → contacts per local hour of day (0–23)."""
    charts: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for contact in result.contacts:
        charts[contact.channel][contact.local.hour] += 1
    return dict(sorted(charts.items()))


def suppressed_by_reason(result: SimulationResult) -> dict[str, int]:
    """How many reminders ended unsent, by the reason of their last decision."""
    return dict(sorted(Counter(reason or "-" for _, _, reason in result.suppressed).items()))


def window_shares(
    policy: Policy | None, result: SimulationResult, zone: str
) -> dict[str, list[float] | None]:
    """channel → the share of days each local hour is open in the simulated first week
    (windows are local rules, so one zone stands for every person's)."""
    if policy is None:
        return {}
    week_of = result.start.astimezone(ZoneInfo(zone)).date()
    return {channel: hour_shares(policy, channel, zone, week_of) for channel in policy.channels}


def day_totals(result: SimulationResult) -> tuple[list[date], list[str], Counter[tuple[date, str]]]:
    counts: Counter[tuple[date, str]] = Counter()
    for contact in result.contacts:
        counts[(contact.local.date(), contact.channel)] += 1
    days = sorted({d for d, _ in counts})
    channels = sorted({c for _, c in counts})
    return days, channels, counts


def render_terminal(console: Console, result: SimulationResult, *, timeline: bool = True) -> None:
    console.print(
        f"simulated {result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC: "
        f"{len(result.contacts)} contact(s), {len(result.suppressed)} suppressed or cancelled, "
        f"{result.pending} still waiting at the end",
        markup=False,
    )
    if timeline:
        render_timeline(console, result.contacts)
    render_days(console, result)
    render_hours(console, result)
    closed = sum(1 for c in result.contacts if c.in_closed_window)
    console.print(f"contacts in a closed window: {closed}", markup=False)
    render_counts(console, "suppressed or cancelled, by reason", suppressed_by_reason(result))
    render_counts(console, "contacts per jurisdiction", per_jurisdiction(result))
    if result.arrangements:
        states = ", ".join(f"{cell(s)} {n}" for s, n in sorted(result.arrangements.items()))
        console.print(f"arrangements at the end: {states}", markup=False)


def render_timeline(console: Console, contacts: list[Contact]) -> None:
    table = Table(title="timeline per case (local time of the person)")
    for column in ("case", "when (local)", "zone", "channel", "template", "outcome"):
        table.add_column(column, overflow="fold")
    for contact in sorted(contacts, key=lambda c: (c.case_id, c.at)):
        table.add_row(
            *map(
                cell,
                (
                    contact.case_id,
                    f"{contact.local:%Y-%m-%d %a %H:%M}",
                    ", ".join(contact.zones),
                    contact.channel,
                    contact.template,
                    contact.outcome,
                ),
            )
        )
    console.print(table)


def render_days(console: Console, result: SimulationResult) -> None:
    days, channels, counts = day_totals(result)
    table = Table(title="contacts per day and channel (local date)")
    table.add_column("day")
    for channel in channels:
        table.add_column(cell(channel), justify="right")
    table.add_column("total", justify="right")
    for day in days:
        row = [counts[(day, c)] for c in channels]
        table.add_row(f"{day:%Y-%m-%d %a}", *map(str, row), str(sum(row)))
    console.print(table)


def render_counts(console: Console, title: str, counts: dict[str, int]) -> None:
    if not counts:
        return
    table = Table(title=cell(title))
    table.add_column("", overflow="fold")
    table.add_column("count", justify="right")
    for name, n in sorted(counts.items()):
        table.add_row(cell(name), str(n))
    console.print(table)


def render_hours(console: Console, result: SimulationResult) -> None:
    for channel, hours in hour_counts(result).items():
        top = max(hours) or 1
        table = Table(title=cell(f"{channel}: contacts by hour of day, person's local time"))
        table.add_column("hour", justify="right")
        table.add_column("contacts", justify="right")
        table.add_column("", overflow="crop")
        for hour, count in enumerate(hours):
            table.add_row(f"{hour:02d}", str(count), BAR * round(40 * count / top))
        console.print(table)


def render_html(
    result: SimulationResult,
    title: str = "dispatcher simulate",
    changes_section: str = "",
    *,
    policy: Policy | None = None,
    zone: str = "UTC",
) -> str:
    """A self-contained page (inline CSS and SVG, no scripts, no external files) with the
    same charts and tables — each hour chart with its counts, its axis and, shaded behind it,
    the hours ``policy`` allows the channel — and ``changes_section``
    (``render_changes_html``) when comparing."""
    closed = sum(1 for c in result.contacts if c.in_closed_window)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC · "
        f"{len(result.contacts)} contacts · {len(result.suppressed)} suppressed or cancelled · "
        f"{closed} in a closed window · {result.pending} still waiting at the end</p>",
        "<h2>Hour of day, person's local time</h2>",
        "<p>Bars: contacts in that hour. Shaded: the hours the channel's window allows "
        "(darker where more days of the week allow them).</p><div class='charts'>",
    ]
    shares = window_shares(policy, result, zone)
    for index, (channel, hours) in enumerate(hour_counts(result).items()):
        chart = hour_of_day_bars(
            hours,
            shares.get(channel),
            f"{channel}: contacts by hour of day",
            PALETTE[index % len(PALETTE)],
        )
        parts.append(
            f"<figure data-channel='{html.escape(channel)}'>"
            f"<figcaption>{html.escape(channel)} · {sum(hours)} contacts</figcaption>"
            f"{chart}</figure>"
        )
    parts.append("</div><h2>Contacts per day and channel</h2>")
    days, channels, counts = day_totals(result)
    parts.append(
        "<table><tr><th>day</th>"
        + "".join(f"<th>{html.escape(c)}</th>" for c in channels)
        + "<th>total</th></tr>"
    )
    for day in days:
        row = [counts[(day, c)] for c in channels]
        parts.append(
            f"<tr><td>{day:%Y-%m-%d %a}</td>"
            + "".join(f"<td>{n}</td>" for n in row)
            + f"<td>{sum(row)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        _counts_html("Suppressed or cancelled, by reason", "reasons", suppressed_by_reason(result))
    )
    parts.append(
        _counts_html("Contacts per jurisdiction", "jurisdictions", per_jurisdiction(result))
    )
    parts.append("<h2>Timeline per case</h2><table>")
    parts.append(
        "<tr><th>case</th><th>when (local)</th><th>zone</th><th>channel</th>"
        "<th>template</th><th>outcome</th></tr>"
    )
    for c in sorted(result.contacts, key=lambda c: (c.case_id, c.at)):
        parts.append(
            f"<tr><td>{html.escape(c.case_id)}</td><td>{c.local:%Y-%m-%d %a %H:%M}</td>"
            f"<td>{html.escape(', '.join(c.zones))}</td><td>{html.escape(c.channel)}</td>"
            f"<td>{html.escape(c.template)}</td><td>{html.escape(c.outcome)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(changes_section)
    parts.append("</body></html>")
    return "\n".join(parts)


def _counts_html(title: str, name: str, counts: dict[str, int]) -> str:
    if not counts:
        return ""
    rows = "".join(
        f"<tr data-key='{html.escape(key)}'><td>{html.escape(key)}</td><td>{n}</td></tr>"
        for key, n in sorted(counts.items())
    )
    return (
        f"<h2>{html.escape(title)}</h2><table id='{name}'>"
        f"<tr><th></th><th>count</th></tr>{rows}</table>"
    )


_CSS = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
.charts{display:flex;flex-wrap:wrap;gap:2em}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3em}
svg.chart{width:480px;height:auto}svg text{fill:#444;font-family:system-ui,sans-serif}
table{border-collapse:collapse;margin-top:1em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
h2{margin-top:2.5em}
"""


@dataclass(frozen=True)
class Change:
    """One contact a config adds, removes or moves, by (case, step, channel); ``zone`` is
    the person's primary zone, the one the instants are shown in."""

    kind: str  # added, removed, moved
    key: tuple[str, str, str]
    before: datetime | None
    after: datetime | None
    zone: str = "UTC"

    def shown(self, at: datetime | None) -> str:
        """``at`` in the person's local time, or "-"."""
        return f"{at.astimezone(ZoneInfo(self.zone)):%Y-%m-%d %a %H:%M}" if at else "-"


def compare(base: SimulationResult, other: SimulationResult) -> list[Change]:
    """What going from ``base`` (the old config's run) to ``other`` (the new one's) does:
    the contacts it adds, removes or moves (by case, step, channel)."""
    before = {c.key: c for c in base.contacts}
    after = {c.key: c for c in other.contacts}
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if new is None:
            assert old is not None
            changes.append(Change("removed", key, old.at, None, old.zone or old.zones[0]))
        elif old is None:
            changes.append(Change("added", key, None, new.at, new.zone or new.zones[0]))
        elif old.at != new.at:
            zone = new.zone or new.zones[0]
            changes.append(Change("moved", key, old.at, new.at, zone))
    return changes


def change_summary(changes: list[Change], old: str, new: str) -> str:
    """One line: how many contacts going from ``old`` to ``new`` adds, removes and moves."""
    counts = Counter(c.kind for c in changes)
    return (
        f"{old} → {new}: {counts['added']} added, {counts['removed']} removed, "
        f"{counts['moved']} moved"
    )


def render_changes(console: Console, changes: list[Change], old: str, new: str) -> None:
    """The difference from the ``old`` config's run to the ``new`` one's, in each person's
    local time."""
    console.print(change_summary(changes, old, new), markup=False)
    if not changes:
        return
    table = Table(title=cell(f"changes {old} → {new} (local time of the person)"))
    for column in ("change", "case", "step", "channel", "zone", f"before: {old}", f"after: {new}"):
        table.add_column(cell(column), overflow="fold")
    for change in changes:
        table.add_row(
            *map(
                cell,
                (
                    change.kind,
                    *change.key,
                    change.zone,
                    change.shown(change.before),
                    change.shown(change.after),
                ),
            )
        )
    console.print(table)


def render_changes_html(changes: list[Change], old: str, new: str) -> str:
    """The same difference as ``render_changes``, as a section of the page."""
    rows = [
        f"<h2>{html.escape(change_summary(changes, old, new))}</h2>",
        "<p>Local time of the person.</p><table><tr><th>change</th><th>case</th><th>step</th>"
        f"<th>channel</th><th>zone</th><th>before: {html.escape(old)}</th>"
        f"<th>after: {html.escape(new)}</th></tr>",
    ]
    for change in changes:
        cells = (*change.key, change.zone, change.shown(change.before), change.shown(change.after))
        rows.append(
            f"<tr><td>{html.escape(change.kind)}</td>"
            + "".join(f"<td>{html.escape(v)}</td>" for v in cells)
            + "</tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def write_html(
    path: Path,
    result: SimulationResult,
    changes_section: str = "",
    *,
    policy: Policy | None = None,
    zone: str = "UTC",
) -> None:
    """The report as a page at ``path`` (with ``changes_section``, ``render_changes_html``,
    when comparing), 0600 like every file naming people's cases."""
    page_text = render_html(result, changes_section=changes_section, policy=policy, zone=zone)
    with open_private(path, "w", encoding="utf-8") as page:
        page.write(page_text)


def report_json(result: SimulationResult, changes: list[Change] | None = None) -> dict[str, object]:
    """The report as one JSON-ready object (``simulate --json``): the same figures as the
    tables, the timeline, and the difference when comparing."""
    days, channels, counts = day_totals(result)
    report: dict[str, object] = {
        "start": result.start,
        "end": result.end,
        "contacts": len(result.contacts),
        "suppressed": len(result.suppressed),
        "pending": result.pending,
        "in_closed_window": sum(1 for c in result.contacts if c.in_closed_window),
        "per_day": [
            {"day": day, "channel": channel, "contacts": counts[(day, channel)]}
            for day in days
            for channel in channels
            if counts[(day, channel)]
        ],
        "by_hour": hour_counts(result),
        "suppressed_by_reason": suppressed_by_reason(result),
        "per_jurisdiction": per_jurisdiction(result),
        "arrangements": dict(sorted(result.arrangements.items())),
        "timeline": [
            {
                "case": c.case_id,
                "step": c.step,
                "channel": c.channel,
                "template": c.template,
                "at": c.at,
                "local": c.local.isoformat(),
                "zone": c.zone or c.zones[0],
                "outcome": c.outcome,
                "in_closed_window": c.in_closed_window,
            }
            for c in sorted(result.contacts, key=lambda c: (c.case_id, c.at))
        ],
        "suppressions": [
            {"case": case, "step": step, "reason": reason or "-"}
            for case, step, reason in sorted(result.suppressed)
        ],
    }
    if changes is not None:
        report["changes"] = [
            {
                "change": change.kind,
                "case": change.key[0],
                "step": change.key[1],
                "channel": change.key[2],
                "zone": change.zone,
                "before": change.before,
                "after": change.after,
            }
            for change in changes
        ]
    return report
