"""The counts ``status`` reads (kept by triggers, store/tallies.py) stay exactly what a count
of every row gives, through every kind of write the store makes, on SQLite and PostgreSQL,
and a store upgraded from the version before them starts with its rows counted."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dispatcher.model import Outcome, Reason, ReminderState, Verdict
from dispatcher.store import schema as t
from dispatcher.store.api import NewReminder, Retry, SendRecord
from tests.store import test_store
from tests.store.test_store import NOW, _people, always

store = test_store.store
RETRY = Retry(after=timedelta(minutes=15), max_tries=2)
FAILED = (Outcome.FAILED_PERMANENT.value, Outcome.FAILED_TRANSIENT.value)


def recount(store, now: datetime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What status must say, counted from every row with GROUP BY (the way it was read
    before the counts were kept)."""
    r, a = t.reminders.c, t.attempts.c
    with store.engine.connect() as conn:
        by_state = sorted(
            (row.state, row.channel, row.n)
            for row in conn.execute(
                select(r.state, r.channel, func.count().label("n")).group_by(r.state, r.channel)
            )
        )
        deferred: dict[str, int] = defaultdict(int)
        for row in conn.execute(
            select(r.last_reason, func.count().label("n"))
            .where(r.state == ReminderState.PENDING.value, r.last_reason.is_not(None))
            .group_by(r.last_reason)
        ):
            for code in row.last_reason.split(","):
                deferred[code] += row.n
        failures: dict[tuple[str, str], int] = defaultdict(int)
        for row in conn.execute(
            select(a.channel, a.error_code, func.count().label("n"))
            .where(a.outcome.in_(FAILED))
            .group_by(a.channel, a.error_code)
        ):
            failures[row.channel, row.error_code or "-"] += row.n
        unknown = conn.execute(
            select(func.count()).where(a.outcome == Outcome.UNKNOWN.value)
        ).scalar_one()
    return {
        "by_state": by_state,
        "deferred": dict(deferred),
        "failures": sorted((c, e, n) for (c, e), n in failures.items()),
        "unknown": unknown,
    }


def reported(store, now: datetime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    report = store.status(now)
    return {
        "by_state": sorted(report.by_state_channel),
        "deferred": dict(report.deferred_by_reason),
        "failures": sorted(report.failures),
        "unknown": report.unknown_total,
    }


def assert_exact(store, now: datetime = NOW) -> None:  # type: ignore[no-untyped-def]
    assert reported(store, now) == recount(store, now)


def mixed_decide(rng: random.Random):  # type: ignore[no-untyped-def]
    """Send, defer (one or two reasons) or suppress, at random."""
    send, defer, suppress = always(), always(Verdict.DEFER), always(Verdict.SUPPRESS)

    def decide(reminder, person, case, history):  # type: ignore[no-untyped-def]
        x = rng.random()
        if x < 0.5:
            return send(reminder, person, case, history)
        if x < 0.8:
            decision = defer(reminder, person, case, history)
            if x < 0.65:  # two reasons: counted under each
                extra = (Reason("limit_day", "limit"),)
                return type(decision)(
                    decision.verdict,
                    decision.at,
                    until=decision.until,
                    contact=decision.contact,
                    reasons=decision.reasons + extra,
                )
            return decision
        return suppress(reminder, person, case, history)

    return decide


def outcome_records(claims, rng: random.Random, at: datetime) -> list[SendRecord]:  # type: ignore[no-untyped-def]
    """Records of a mix of outcomes: placed, failed for good, failed for now (rescheduled),
    and some left unrecorded (in flight, for recovery to settle)."""
    records = []
    for c in claims:
        x = rng.random()
        if x < 0.15:
            continue
        if x < 0.6:
            outcome, state, code, again = Outcome.PLACED, ReminderState.SENT, None, None
        elif x < 0.8:
            outcome, state = Outcome.FAILED_PERMANENT, ReminderState.FAILED
            code, again = rng.choice(["21211", "bounce", None]), None
        else:
            outcome, state = Outcome.FAILED_TRANSIENT, ReminderState.PENDING
            code, again = "timeout", at + timedelta(minutes=30)
        records.append(
            SendRecord(
                attempt_id=c.attempt_id,
                reminder_id=c.reminder.id,
                outcome=outcome,
                counted=True,
                finished_at=at,
                reminder_state=state,
                provider_id=f"SM{c.attempt_id}",
                error_code=code,
                reschedule_at=again,
                channel=c.reminder.channel,
            )
        )
    return records


def one_round(store, rng: random.Random, at: datetime, node: str) -> None:  # type: ignore[no-untyped-def]
    """Claim, give some back, confirm and record the rest, settle some by callback."""
    batch = store.claim_due(at, 6, mixed_decide(rng), timedelta(days=7), node=node)
    keep = [c for c in batch.claims if rng.random() > 0.2]
    store.release([c for c in batch.claims if c not in keep], at)
    confirmed = store.start_sending(keep, node, at)
    records = outcome_records([c for c in keep if c.attempt_id in confirmed], rng, at)
    store.record(records, node)
    for record in records[:2]:
        store.settle_attempt(
            attempt_id=None,
            provider_id=f"SM{record.attempt_id}",
            outcome=rng.choice([Outcome.DELIVERED, Outcome.FAILED_TRANSIENT]),
            error_code="30003",
            now=at,
            retry=RETRY,
        )


def test_counts_stay_exact_through_a_realistic_mix(store) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(14)
    _people(store, 12, reminders_each=3)
    assert_exact(store)
    at = NOW
    for round_ in range(8):
        at += timedelta(hours=1)
        one_round(store, rng, at, node="a" if round_ % 2 else "b")
        assert_exact(store, at)
    store.enqueue(
        NewReminder("C1", "P1", "adhoc", "x", "email", "t", at, ReminderState.PENDING), at
    )
    store.case_event("C2", "paid", now=at)
    store.case_event("C3", "plan", now=at, until=at + timedelta(days=3))
    store.case_event("C3", "resume", now=at)
    store.case_event("C4", "close", now=at)
    store.opt_out("P5", "sms", None, now=at, source="cli")
    assert_exact(store, at)
    store.recover(at, resend_channels=["email"], node="a")
    store.expire_claims(at + timedelta(hours=2), [], timedelta(minutes=10))
    assert_exact(store, at)
    # An unknown attempt settled by its late callback leaves the unknown count.
    unknown = store.status(at).unknown_attempts
    assert unknown, "the mix left sends in flight for recovery to make unknown"
    store.settle_attempt(
        attempt_id=unknown[0]["id"], provider_id=None, outcome=Outcome.DELIVERED, now=at
    )
    assert_exact(store, at)
    # A hand-made fix in SQL is counted too: the triggers, not the store's code, count.
    with store.engine.begin() as conn:
        conn.execute(t.decisions.delete())
        conn.execute(t.attempts.delete().where(t.attempts.c.outcome.in_(FAILED)))
        conn.execute(t.reminders.update().values(channel="letter").where(t.reminders.c.id < 5))
    assert_exact(store, at)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_counts_stay_exact_whatever_the_order_of_rounds(store, seeds: list[int]) -> None:  # type: ignore[no-untyped-def]
    if not store.status(NOW).by_state_channel:
        _people(store, 8, reminders_each=4)
    at = NOW
    for seed in seeds:
        rng = random.Random(seed)
        at += timedelta(minutes=rng.randint(1, 120))
        one_round(store, rng, at, node=rng.choice("ab"))
        if rng.random() < 0.3:
            store.recover(at, resend_channels=rng.choice([[], ["sms"]]), node=rng.choice("ab"))
    assert_exact(store, at)


def test_an_upgraded_store_starts_with_its_rows_counted(store) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    _people(store, 10, reminders_each=2)
    one_round(store, rng, NOW, node="a")
    one_round(store, rng, NOW + timedelta(hours=1), node="a")
    expected = recount(store, NOW)
    # Make it a version-4 store: no counts, no triggers.
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:
        for table in ("reminders", "attempts"):
            for event in ("insert", "update", "delete"):
                on = f" ON {table}" if postgres else ""
                conn.exec_driver_sql(f"DROP TRIGGER {table}_tally_{event}{on}")
        conn.exec_driver_sql("DROP TABLE reminder_tallies")
        conn.exec_driver_sql("DROP TABLE attempt_tallies")
        conn.exec_driver_sql("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == t.SCHEMA_VERSION
    assert reported(store, NOW) == expected
    one_round(store, rng, NOW + timedelta(hours=2), node="a")
    assert_exact(store, NOW + timedelta(hours=2))


def test_postgres_folds_appended_counts_without_losing_a_writer_in_flight(pg_url: str) -> None:
    from dispatcher.store import open_store

    store = open_store(pg_url)
    try:
        _people(store, 6, reminders_each=2)
        one_round(store, random.Random(3), NOW, node="a")
        with store.engine.connect() as writer:
            writer.begin()
            writer.execute(
                t.reminders.update()
                .where(t.reminders.c.state == ReminderState.PENDING.value)
                .values(state=ReminderState.CANCELLED.value)
            )
            store.status(NOW)  # folds while that writer's counts are not yet committed
            writer.commit()
        assert_exact(store)
        store.status(NOW)
        with store.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(t.reminder_tallies)).scalar()
        keys = len(recount(store, NOW)["by_state"])
        assert rows == keys, "after a fold, one row per key"
    finally:
        store.close()
