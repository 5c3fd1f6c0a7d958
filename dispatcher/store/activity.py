"""The console's reads (``console_api``): the last hours' sends, deferrals and suppressions
per hour and channel, each channel's last success and failure, and the nodes holding claims.

The hour is cut in Python from the rows' instants (a read of the last day's rows by the
indexes on ``at``), not in SQL, so one query serves SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, func, select

from dispatcher.model import Outcome, ReminderState, Verdict
from dispatcher.store import schema as t
from dispatcher.store.console_api import ChannelRecent, HourCount, NodeClaims

SUCCESSES = (
    Outcome.PLACED.value,
    Outcome.DELIVERED.value,
    Outcome.CONVERSATION.value,
)
FAILURES = (Outcome.FAILED_TRANSIENT.value, Outcome.UNKNOWN.value)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def activity(conn: Connection, since: datetime) -> list[HourCount]:
    counts: Counter[tuple[datetime, str, str]] = Counter()
    a = t.attempts.c
    for channel, at in conn.execute(
        select(a.channel, a.at).where(a.at >= since, a.outcome != Outcome.RELEASED.value)
    ):
        counts[_hour(at), channel, Verdict.SEND.value] += 1
    d, r = t.decisions.c, t.reminders.c
    kinds = (Verdict.DEFER.value, Verdict.SUPPRESS.value)
    for channel, verdict, at in conn.execute(
        select(r.channel, d.verdict, d.at)
        .join(t.reminders, r.id == d.reminder_id)
        .where(d.at >= since, d.verdict.in_(kinds))
    ):
        counts[_hour(at), channel, verdict] += 1
    return [
        HourCount(hour, channel, kind, n) for (hour, channel, kind), n in sorted(counts.items())
    ]


def channel_recent(conn: Connection, since: datetime) -> list[ChannelRecent]:
    a = t.attempts.c
    finished = func.coalesce(a.finished_at, a.at)
    last: dict[str, dict[str, tuple[datetime, str | None]]] = {}
    rows = conn.execute(
        select(a.channel, a.outcome, finished, a.error_code)
        .where(a.at >= since, a.outcome.in_(SUCCESSES + FAILURES))
        .order_by(finished)
    )
    for channel, outcome, at, code in rows:
        key = "failure" if outcome in FAILURES else "success"
        last.setdefault(channel, {})[key] = (at, code)
    return [
        ChannelRecent(
            channel,
            seen.get("success", (None, None))[0],
            seen.get("failure", (None, None))[0],
            seen.get("failure", (None, None))[1],
        )
        for channel, seen in sorted(last.items())
    ]


def node_claims(conn: Connection) -> list[NodeClaims]:
    r = t.reminders.c
    rows = conn.execute(
        select(r.claimed_by, func.count(), func.max(r.claimed_at))
        .where(r.state == ReminderState.CLAIMED.value, r.claimed_by.is_not(None))
        .group_by(r.claimed_by)
        .order_by(r.claimed_by)
    )
    return [NodeClaims(node, int(n), at) for node, n, at in rows]
