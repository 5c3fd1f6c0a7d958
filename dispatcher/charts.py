"""Charts drawn on the server as inline SVG, for the console and for ``simulate --html``: a
page needs no script to show them, carries no chart library, and a refresh replaces the
markup whole. Every label is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

# Colour-blind-safe (Okabe–Ito), one per channel in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
WIDTH, HEIGHT = 400, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 10, 22


def colour(channels: Sequence[str], channel: str) -> str:
    return PALETTE[channels.index(channel) % len(PALETTE)] if channel in channels else "#888"


def nice_top(value: int) -> int:
    """The axis's top: ``value`` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= step * factor:
                return step * factor
        step *= 10


def _chart_open(label: str) -> str:
    # No xmlns: the charts are drawn inline in HTML pages, where SVG needs none.
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">'
    )


def _count_axis(top: int) -> list[str]:
    """Grid lines and counts at 0, the middle (when whole) and ``top``. Colours and sizes
    are attributes, so a page without the console's style sheet draws them too."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for tick in (0, top // 2, top) if top % 2 == 0 and top > 1 else (0, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" font-size="9">{tick}</text>'
        )
    return parts


def hourly_bars(
    counts: Mapping[tuple[datetime, str], int],
    last_hour: datetime,
    channels: Sequence[str],
    label: str,
) -> Markup:
    """A bar per hour of the 24 ending with ``last_hour``, stacked by channel, with a count
    axis and hour labels. ``counts``: (hour, channel) → count."""
    hours = [last_hour - timedelta(hours=23 - i) for i in range(24)]
    totals = [sum(counts.get((hour, c), 0) for c in channels) for hour in hours]
    top = nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / 24
    parts = [_chart_open(label), *_count_axis(top)]
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + 2
        base = float(TOP + plot_h)
        for channel in channels:
            n = counts.get((hour, channel), 0)
            if not n:
                continue
            h = plot_h * n / top
            base -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{slot - 4:.1f}" '
                f'height="{h:.1f}" fill="{colour(channels, channel)}" '
                f'data-channel="{escape(channel)}" data-hour="{hour:%H}" data-count="{n}">'
                f"<title>{hour:%H}:00 {escape(channel)}: {n}</title></rect>"
            )
        if i % 3 == 0 or i == 23:
            parts.append(
                f'<text class="tick" x="{x + (slot - 4) / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{hour:%H}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}"/></svg>'
    )
    return Markup("".join(parts))


def legend(channels: Sequence[str]) -> Markup:
    # A swatch is SVG, not a styled element: the console's CSP allows no inline style.
    items = "".join(
        f'<span class="key"><svg class="swatch" viewBox="0 0 10 10" width="10" height="10">'
        f'<rect width="10" height="10" rx="2" fill="{colour(channels, c)}"/></svg>'
        f"{escape(c)}</span>"
        for c in channels
    )
    return Markup(f'<p class="legend">{items}</p>')


CELL_W, CELL_H, GRID_LEFT, GRID_TOP = 24, 18, 36, 16


def week_grid(
    open_share: Sequence[Sequence[float]], day_names: Sequence[str], label: str
) -> Markup:
    """Seven rows (Monday first) of 24 hour cells, each shaded by the share of the hour
    that is open (0 to 1), with hour labels above."""
    width = GRID_LEFT + 24 * CELL_W + 4
    height = GRID_TOP + 7 * CELL_H + 4
    parts = [
        f'<svg class="week" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for hour in range(0, 24, 3):
        x = GRID_LEFT + hour * CELL_W
        parts.append(f'<text class="tick" x="{x}" y="{GRID_TOP - 4}">{hour:02d}</text>')
    for day, row in enumerate(open_share):
        y = GRID_TOP + day * CELL_H
        parts.append(
            f'<text class="tick" x="{GRID_LEFT - 6}" y="{y + CELL_H - 5}" '
            f'text-anchor="end">{escape(day_names[day])}</text>'
        )
        for hour, share in enumerate(row):
            state = "open" if share >= 1 else "part" if share > 0 else "closed"
            shade = f' fill-opacity="{0.3 + 0.7 * share:.2f}"' if state == "part" else ""
            parts.append(
                f'<rect class="cell {state}" x="{GRID_LEFT + hour * CELL_W}" y="{y}" '
                f'width="{CELL_W - 1}" height="{CELL_H - 1}"{shade}>'
                f"<title>{escape(day_names[day])} {hour:02d}:00 {share:.0%}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def hour_of_day_bars(
    hours: Sequence[int], open_share: Sequence[float] | None, label: str, fill: str = PALETTE[0]
) -> Markup:
    """A bar per local hour of the day (0–23) with its count written above it and a count
    axis; behind the bars, each hour shaded by ``open_share`` (0 to 1, the share of days the
    channel's window allows it; none when no window binds the channel)."""
    top = nice_top(max(hours, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / 24
    parts = [_chart_open(label)]
    for hour, share in enumerate(open_share or ()):
        if share > 0:
            parts.append(
                f'<rect class="window" x="{LEFT + hour * slot:.1f}" y="{TOP}" '
                f'width="{slot:.1f}" height="{plot_h}" fill="#009E73" '
                f'fill-opacity="{0.08 + 0.17 * share:.2f}" data-hour="{hour:02d}" '
                f'data-open="{share:.2f}"><title>{hour:02d}:00 open on {share:.0%} of days'
                "</title></rect>"
            )
    parts += _count_axis(top)
    for hour, count in enumerate(hours):
        x = LEFT + hour * slot + 2
        if count:
            h = plot_h * count / top
            y = TOP + plot_h - h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" '
                f'height="{h:.1f}" fill="{fill}" data-hour="{hour:02d}" data-count="{count}">'
                f"<title>{hour:02d}:00: {count}</title></rect>"
                f'<text class="count" x="{x + (slot - 4) / 2:.1f}" y="{max(y - 2, 8):.1f}" '
                f'text-anchor="middle" font-size="7">{count}</text>'
            )
        if hour % 3 == 0 or hour == 23:
            parts.append(
                f'<text class="tick" x="{x + (slot - 4) / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle" font-size="9">{hour:02d}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}" stroke="#999"/></svg>'
    )
    return Markup("".join(parts))
