"""Realistic contact histories for the burst run: 0–30 past attempts per person, inside the
policy's lookback, so every limit is evaluated against a real history.

Each person gets a uniform 0–30 attempts on days spread over the lookback, at a daytime hour
of their own zone, on channels in a collection mix (texts most, then calls, email, a few
letters), each to the person's own address for that channel, with outcomes as those
channels report them (calls mostly unanswered, a few conversations; some failures, which do
not count). No attempt is later than ``QUIET`` before now, so the minimum gap (4 h in the
example) lets most reminders go; the per-address and per-day limits and the cooldown after a
conversation defer the rest. The rows go straight into the attempts table (no reminder is
needed for a past attempt) in bulk: the history a long-running deployment would have.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from dispatcher.store import schema
from dispatcher.store.api import Store

MAX_ATTEMPTS = 30
QUIET = timedelta(hours=5)
CHANNELS = (("sms", "phone", 45), ("voice", "phone", 30), ("email", "email", 20))
LETTER = ("letter", "postal", 5)
OUTCOMES = {
    "sms": (("delivered", 70), ("placed", 20), ("failed-transient", 7), ("failed-permanent", 3)),
    "voice": (("placed", 62), ("conversation", 6), ("failed-transient", 30), ("delivered", 2)),
    "email": (("delivered", 80), ("placed", 15), ("failed-permanent", 5)),
    "letter": (("placed", 100),),
}
NOT_COUNTED = {"failed-transient", "failed-permanent"}
CHUNK = 5000


@dataclass(frozen=True)
class Owner:
    """Whose history: the person, one of their cases, their zone and their addresses."""

    person_id: str
    case_id: str
    zone: str
    contacts: dict[str, str]  # contact kind → the address used


def _instant(rng: random.Random, zone: ZoneInfo, now: datetime, lookback: timedelta) -> datetime:
    """A daytime instant (08:00–20:59 local) inside (now - lookback, now - QUIET)."""
    while True:
        days = rng.uniform(0, lookback.total_seconds() / 86400)
        local = (now - timedelta(days=days)).astimezone(zone)
        local = local.replace(hour=rng.randint(8, 20), minute=rng.randint(0, 59))
        at = local.astimezone(UTC)
        if now - lookback + timedelta(hours=1) < at < now - QUIET:
            return at


def history_rows(
    owners: Sequence[Owner], lookback: timedelta, now: datetime, seed: int
) -> tuple[list[dict[str, object]], Counter[int]]:
    """The attempt rows for ``owners``, and how many people have each history size."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    sizes: Counter[int] = Counter()
    for owner in owners:
        size = rng.randint(0, MAX_ATTEMPTS)
        sizes[size] += 1
        zone = ZoneInfo(owner.zone)
        mix = [c for c in (*CHANNELS, LETTER) if c[1] in owner.contacts]
        for _ in range(size):
            channel, kind, _ = rng.choices(mix, weights=[w for *_, w in mix])[0]
            outcome = rng.choices(*zip(*OUTCOMES[channel], strict=True))[0]
            at = _instant(rng, zone, now, lookback)
            rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "reminder_id": None,
                    "person_id": owner.person_id,
                    "case_id": owner.case_id,
                    "channel": channel,
                    "contact_kind": kind,
                    "contact": owner.contacts[kind],
                    "at": at,
                    "finished_at": at + timedelta(seconds=rng.randint(1, 40)),
                    "outcome": outcome,
                    "counted": outcome not in NOT_COUNTED,
                    "provider_id": None,
                    "error_code": "bench" if outcome in NOT_COUNTED else None,
                    "detail": None,
                }
            )
    return rows, sizes


def seed_histories(
    store: Store, owners: Sequence[Owner], lookback: timedelta, now: datetime, seed: int
) -> Counter[int]:
    """Write ``owners``' past attempts; returns how many people have each history size."""
    rows, sizes = history_rows(owners, lookback, now, seed)
    engine = store.engine  # type: ignore[attr-defined]  # both SQL stores have one
    with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(schema.attempts), rows[start : start + CHUNK])
    return sizes


def describe_sizes(sizes: Counter[int]) -> str:
    people = sum(sizes.values())
    attempts = sum(size * n for size, n in sizes.items())
    mean = attempts / max(people, 1)
    low, high = min(sizes, default=0), max(sizes, default=0)
    return f"{attempts:,} past attempts for {people:,} people ({low}–{high} each, mean {mean:.1f})"
