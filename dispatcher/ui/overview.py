"""The overview's facts, read on the daemon's reader: the store's status (the very report
``dispatcher status`` prints), the last 24 hours' sends, deferrals and suppressions per hour
and channel, each channel up or down, the last reload, and on a shared store the nodes
holding claims. ``counts`` is what ``/ui/overview.json`` answers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatcher.api.access import CoreAccess
from dispatcher.privacy import mask_contact
from dispatcher.store.api import StatusReport
from dispatcher.store.console_api import ChannelRecent, HourCount, NodeClaims
from dispatcher.ui.reload_state import ReloadView, last_reload

KINDS = ("send", "defer", "suppress")
DAY = timedelta(hours=24)
RECENT = timedelta(hours=1)  # a channel is judged by its attempts of the last hour


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    state: str  # up, down, idle
    last_success: datetime | None
    last_failure: datetime | None
    failure_code: str | None


def health_of(channel: str, recent: ChannelRecent | None) -> ChannelHealth:
    """Down when its latest failure (temporary, or of unknown outcome) is newer than its
    latest success; up with a success and no newer failure; idle with neither."""
    if recent is None:
        return ChannelHealth(channel, "idle", None, None, None)
    failed, succeeded = recent.last_failure, recent.last_success
    down = failed is not None and (succeeded is None or failed > succeeded)
    state = "down" if down else "up" if succeeded is not None else "idle"
    return ChannelHealth(channel, state, succeeded, failed, recent.failure_code)


@dataclass(frozen=True)
class Overview:
    now: datetime
    report: StatusReport
    activity: list[HourCount]
    channels: list[str]
    health: list[ChannelHealth]
    reload: ReloadView
    nodes: list[NodeClaims] | None  # None on a store of one node (SQLite)
    personal_data: bool
    arrangements: dict[str, int]  # by state, as ``status`` counts them

    @property
    def last_hour(self) -> datetime:
        return self.now.replace(minute=0, second=0, microsecond=0)

    def states(self) -> list[str]:
        return sorted({s for s, _, _ in self.report.by_state_channel})

    def by_state(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = defaultdict(dict)
        for state, channel, n in self.report.by_state_channel:
            table[state][channel] = n
        return dict(table)

    def hourly(self, kind: str) -> dict[tuple[datetime, str], int]:
        return {(c.hour, c.channel): c.count for c in self.activity if c.kind == kind}

    def day_totals(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        for c in self.activity:
            if c.hour > self.last_hour - DAY:
                per = totals.setdefault(c.kind, {})
                per[c.channel] = per.get(c.channel, 0) + c.count
        return totals

    def unknown_rows(self) -> list[dict[str, Any]]:
        show = (lambda v: v) if self.personal_data else mask_contact
        return [
            {
                "attempt_id": item["id"],
                "reminder_id": item["reminder_id"],
                "case_id": item["case_id"],
                "channel": item["channel"],
                "to": show(item["contact"]),
                "at": item["at"].isoformat(),
            }
            for item in self.report.unknown_attempts
        ]

    def counts(self) -> dict[str, Any]:
        """Every number the overview shows, as JSON."""
        report = self.report
        return {
            "now": self.now.isoformat(),
            "reminders": self.by_state(),
            "due_now": report.due_now,
            "next_due": report.next_due.isoformat() if report.next_due else None,
            "pending_by_reason": dict(report.deferred_by_reason),
            "failures": [
                {"channel": c, "code": code, "attempts": n} for c, code, n in report.failures
            ],
            "unknown_total": report.unknown_total,
            "unknown_by_channel": report.unknown_by_channel,
            "unknown_attempts": self.unknown_rows(),
            "arrangements": dict(sorted(self.arrangements.items())),
            "last_24h": self.day_totals(),
            "channels": {
                h.channel: {
                    "state": h.state,
                    "last_success": _iso(h.last_success),
                    "last_failure": _iso(h.last_failure),
                    "failure_code": h.failure_code,
                }
                for h in self.health
            },
            "reload": {
                "version": self.reload.version,
                "reloads": self.reload.reloads,
                "accepted": self.reload.accepted,
                "at": _iso(self.reload.at),
                "problems": list(self.reload.problems),
            },
            "nodes": None
            if self.nodes is None
            else [
                {"node": n.node, "claims": n.claims, "renewed_at": _iso(n.renewed_at)}
                for n in self.nodes
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def gather(core: CoreAccess, *, personal_data: bool) -> Overview:
    now = core.clock()
    store = core.store
    report = await core.read(store.status, now)
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    activity = await core.read(store.activity, last_hour - timedelta(hours=23))
    recent = {r.channel: r for r in await core.read(store.channel_recent, now - RECENT)}
    configured = list(core.runtime.config.dispatcher.channels)
    seen = {s for _, s, _ in report.by_state_channel} | {a.channel for a in activity}
    channels = configured + sorted(seen - set(configured))
    nodes = await core.read(store.node_claims) if store.concurrent_writers else None
    arrangements = await core.read(store.arrangement_counts)
    return Overview(
        now=now,
        report=report,
        activity=activity,
        channels=channels,
        health=[health_of(c, recent.get(c)) for c in configured],
        reload=last_reload(core),
        nodes=nodes,
        personal_data=personal_data,
        arrangements=arrangements,
    )
