"""The store API on a real SQLite file and on PostgreSQL (each test in a schema of its own;
skipped with the reason when no PostgreSQL answers): schema, intake, claims with
reservations, recording, release, crash recovery, events, opt-outs and reports."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.model import (
    Attempt,
    Case,
    ContactKind,
    Decision,
    Outcome,
    Person,
    Reason,
    Reminder,
    ReminderState,
    Verdict,
)
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, Claim, NewReminder, PersonIn, SendRecord, UnknownCase
from dispatcher.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = open_store(url)
    yield s
    s.close()


def _people(
    store, n: int, reminders_each: int = 1, due: datetime = NOW - timedelta(minutes=5)
) -> None:  # type: ignore[no-untyped-def]
    store.upsert(
        [
            PersonIn(
                id=f"P{i}",
                name=f"Name {i}",
                locale="en",
                timezone="UTC",
                phones=(f"+4479111234{i:02d}",),
                emails=(f"p{i}@example.com",),
            )
            for i in range(n)
        ],
        [
            CaseIn(
                id=f"C{i}",
                person_id=f"P{i}",
                amount="10.00",
                currency="GBP",
                due_date=date(2026, 11, 1),
                schedule="standard",
            )
            for i in range(n)
        ],
        NOW,
    )
    store.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="standard",
                step=str(k),
                channel="sms",
                template="t",
                due_at=due + timedelta(seconds=k),
            )
            for i in range(n)
            for k in range(reminders_each)
        ],
        [],
        NOW,
    )


def placed(claims: Sequence[Claim], at: datetime = NOW, **extra: object) -> list[SendRecord]:
    """The records of ``claims`` sent and accepted by the provider at ``at``."""
    return [
        SendRecord(
            attempt_id=c.attempt_id,
            reminder_id=c.reminder.id,
            outcome=Outcome.PLACED,
            counted=True,
            finished_at=at,
            reminder_state=ReminderState.SENT,
            **extra,  # type: ignore[arg-type]
        )
        for c in claims
    ]


def always(verdict: Verdict = Verdict.SEND):  # type: ignore[no-untyped-def]
    def decide(
        reminder: Reminder, person: Person, case: Case, history: Sequence[Attempt]
    ) -> Decision:
        contact = next(c for c in person.contacts if c.kind is ContactKind.PHONE)
        if verdict is Verdict.DEFER:
            return Decision(
                Verdict.DEFER,
                NOW,
                until=NOW + timedelta(hours=1),
                contact=contact,
                reasons=(Reason("quiet_hours", "closed"),),
            )
        if verdict is Verdict.SUPPRESS:
            return Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("opt_out", "opted out"),))
        return Decision(Verdict.SEND, NOW, contact=contact)

    return decide


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    assert store.migrate() == SCHEMA_VERSION  # a second migrate is a no-op
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        open_store(f"sqlite:///{path}")


def test_upsert_keeps_contact_status_and_case_state(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    store.case_event("C0", "dispute", now=NOW)
    store.opt_out("P0", "sms", "+447911123400", now=NOW, source="test")
    # Re-import with a new name and an extra phone.
    store.upsert(
        [
            PersonIn(
                id="P0",
                name="New Name",
                locale="zh-CN",
                timezone="Asia/Shanghai",
                phones=("+447911123400", "+447911123499"),
            )
        ],
        [
            CaseIn(
                id="C0",
                person_id="P0",
                amount="12.00",
                currency="GBP",
                due_date=date(2026, 11, 2),
                schedule="standard",
            )
        ],
        NOW,
    )
    person = store.get_person("P0")
    assert person.name == "New Name" and person.timezone == "Asia/Shanghai"
    assert [c.value for c in person.contacts if c.kind is ContactKind.PHONE] == [
        "+447911123400",
        "+447911123499",
    ]
    assert person.opt_outs[0].contact == "+447911123400"
    case = store.get_case("C0")
    assert case.amount == "12.00" and case.state.value == "disputed"


def test_add_reminders_is_idempotent(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 3, reminders_each=2)
    again = [
        NewReminder(
            case_id="C0",
            person_id="P0",
            schedule="standard",
            step="0",
            channel="sms",
            template="t",
            due_at=NOW,
        )
    ]
    assert store.add_reminders(again, [], NOW) == 0
    assert (
        store.add_reminders(
            [
                NewReminder(
                    case_id="C0",
                    person_id="P0",
                    schedule="standard",
                    step="9",
                    channel="sms",
                    template="t",
                    due_at=NOW,
                )
            ],
            [],
            NOW,
        )
        == 1
    )


def test_claim_reserves_attempt_one_per_person_oldest_first(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 5, reminders_each=3)
    batch = store.claim_due(NOW, 100, always(), timedelta(days=7))
    assert len(batch.claims) == 5, "one reminder per person per batch"
    assert all(c.reminder.step == "0" for c in batch.claims), "oldest first"
    assert all(c.attempt_id for c in batch.claims)
    # People with a contact in flight are not claimed again.
    assert store.claim_due(NOW, 100, always(), timedelta(days=7)).claims == []
    # The reserved attempt is history for the next decision (it counts toward limits).
    store.record(placed(batch.claims))
    seen: list[int] = []

    def spy(reminder, person, case, history):  # type: ignore[no-untyped-def]
        seen.append(len(history))
        return always()(reminder, person, case, history)

    batch = store.claim_due(NOW, 100, spy, timedelta(days=7))
    assert len(batch.claims) == 5 and seen == [1] * 5


def test_a_run_of_due_reminders_of_people_in_flight_does_not_hide_the_next_person(store) -> None:  # type: ignore[no-untyped-def]
    # P0 has a dozen reminders due; with one claimed, the other eleven come first in due
    # order, more than a page of candidates for a batch of one: P1's, due after them all,
    # is still found.
    _people(store, 1, reminders_each=12, due=NOW - timedelta(minutes=10))
    first = store.claim_due(NOW, 1, always(), timedelta(days=7))
    assert [(c.reminder.person_id, c.reminder.step) for c in first.claims] == [("P0", "0")]
    _people(store, 2, due=NOW - timedelta(minutes=1))
    batch = store.claim_due(NOW, 1, always(), timedelta(days=7))
    assert [(c.reminder.person_id, c.reminder.step) for c in batch.claims] == [("P1", "0")]
    assert store.claim_due(NOW, 5, always(), timedelta(days=7)).claims == []


def test_claim_limit_and_due_time(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 10)
    _people_later = [
        NewReminder(
            case_id="C0",
            person_id="P0",
            schedule="x",
            step="later",
            channel="sms",
            template="t",
            due_at=NOW + timedelta(hours=1),
        )
    ]
    store.add_reminders(_people_later, [], NOW)
    assert len(store.claim_due(NOW, 4, always(), timedelta(0)).claims) == 4
    assert len(store.claim_due(NOW, 100, always(), timedelta(0)).claims) == 6
    assert store.next_due_at() == NOW + timedelta(hours=1)


def test_defer_and_suppress_are_recorded_with_reasons(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    batch = store.claim_due(NOW, 10, always(Verdict.DEFER), timedelta(0))
    assert batch.claims == [] and len(batch.decided) == 1
    history = store.case_history("C0")
    [reminder] = history.reminders
    assert reminder.state is ReminderState.PENDING and reminder.due_at == NOW + timedelta(hours=1)
    assert history.reminder_reasons[reminder.id] == "quiet_hours"
    assert history.decisions[0]["verdict"] == "defer"
    assert history.decisions[0]["reasons"] == [["quiet_hours", "closed"]]
    store.claim_due(NOW + timedelta(hours=2), 10, always(Verdict.SUPPRESS), timedelta(0))
    history = store.case_history("C0")
    assert history.reminders[0].state is ReminderState.SUPPRESSED
    assert [d["verdict"] for d in history.decisions] == ["defer", "suppress"]


def test_release_and_recover(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 4)
    batch = store.claim_due(NOW, 10, always(), timedelta(0))
    store.release(batch.claims[:2], NOW)
    assert store.start_sending(batch.claims[2:], "", NOW) == {
        c.attempt_id for c in batch.claims[2:]
    }
    report = store.recover(NOW, resend_channels=[])
    assert report.unknown == 2 and report.requeued == 0 and report.released == 0
    history = store.case_history(batch.claims[0].case.id)
    assert history.reminders[0].state is ReminderState.PENDING
    assert history.attempts[0]["outcome"] == "released" and not history.attempts[0]["counted"]
    history = store.case_history(batch.claims[3].case.id)
    assert history.reminders[0].state is ReminderState.UNKNOWN
    assert history.attempts[0]["outcome"] == "unknown" and history.attempts[0]["counted"]
    status = store.status(NOW)
    assert len(status.unknown_attempts) == 2


def test_recover_resend_channel_requeues(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 2)
    batch = store.claim_due(NOW, 10, always(), timedelta(0))
    store.start_sending(batch.claims, "", NOW)
    report = store.recover(NOW, resend_channels=["sms"])
    assert report.requeued == 2 and report.unknown == 0
    assert len(store.claim_due(NOW, 10, always(), timedelta(0)).claims) == 2


def test_paid_cancels_pending_with_a_recorded_reason(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1, reminders_each=3)
    case = store.case_event("C0", "paid", now=NOW)
    assert case.state.value == "paid"
    history = store.case_history("C0")
    assert {r.state for r in history.reminders} == {ReminderState.CANCELLED}
    assert all(d["reasons"][0][0] == "case_paid" for d in history.decisions)
    assert history.events[0]["kind"] == "paid"


def test_plan_needs_future_date_and_resume_brings_reminders_forward(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    with pytest.raises(ValueError, match="--until"):
        store.case_event("C0", "plan", now=NOW)
    case = store.case_event("C0", "plan", now=NOW, until=NOW + timedelta(days=30))
    assert case.paused_until == NOW + timedelta(days=30)
    store.claim_due(NOW, 10, always(Verdict.DEFER), timedelta(0))  # due moves to NOW+1h
    later = NOW + timedelta(minutes=10)
    case = store.case_event("C0", "resume", now=later)
    assert case.state.value == "open" and case.paused_until is None
    assert store.case_history("C0").reminders[0].due_at == later
    with pytest.raises(UnknownCase):
        store.case_event("nope", "paid", now=NOW)
    with pytest.raises(ValueError, match="unknown case event"):
        store.case_event("C0", "explode", now=NOW)


def test_opt_out_and_opt_in(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    store.opt_out("P0", "sms", None, now=NOW, source="cli")
    store.opt_out("P0", "sms", None, now=NOW, source="cli")  # twice is once
    assert len(store.get_person("P0").opt_outs) == 1
    store.opt_out("P0", "sms", None, now=NOW, source="cli", clear=True)
    assert store.get_person("P0").opt_outs == ()
    with pytest.raises(LookupError):
        store.opt_out("nobody", "sms", None, now=NOW, source="cli")


def test_status_counts(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 3)
    store.claim_due(NOW, 1, always(Verdict.DEFER), timedelta(0))
    status = store.status(NOW)
    assert ("pending", "sms", 3) in status.by_state_channel
    assert status.due_now == 2
    assert dict(status.deferred_by_reason) == {"quiet_hours": 1}


def test_an_older_schema_is_upgraded_in_place(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    # Make it a version-1 store: no claim ownership, no policy version on decisions.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE reminders DROP COLUMN claimed_by")
        conn.exec_driver_sql("ALTER TABLE reminders DROP COLUMN claimed_at")
        conn.exec_driver_sql("ALTER TABLE decisions DROP COLUMN policy_version")
        conn.exec_driver_sql("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == SCHEMA_VERSION
    batch = store.claim_due(NOW, 10, always(), timedelta(0), node="n1")
    assert len(batch.claims) == 1, "the upgraded store works, data kept"


def test_recover_touches_only_this_nodes_claims_until_their_lease_ends(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 4)
    a = store.claim_due(NOW, 2, always(), timedelta(0), node="a")
    b = store.claim_due(NOW, 2, always(), timedelta(0), node="b")
    assert len(store.start_sending(a.claims + b.claims, "a", NOW)) == 2, "only a's own"
    store.start_sending(b.claims, "b", NOW)
    report = store.recover(NOW, resend_channels=[], node="a")
    assert report.unknown == 2
    status = store.status(NOW)
    assert ("claimed", "sms", 2) in status.by_state_channel, "b's sends are b's business"
    # Node b vanished: its claims expire after the lease, not before.
    assert store.expire_claims(NOW + timedelta(minutes=5), [], timedelta(minutes=10)).unknown == 0
    assert store.expire_claims(NOW + timedelta(minutes=11), [], timedelta(minutes=10)).unknown == 2
    assert all(s != "claimed" for s, _, _ in store.status(NOW).by_state_channel)


def test_a_dead_nodes_unsent_claims_return_to_the_pool_and_its_sends_become_unknown(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 5)
    batch = store.claim_due(NOW, 5, always(), timedelta(0), node="a")
    sending = batch.claims[:2]
    assert store.start_sending(sending, "a", NOW) == {c.attempt_id for c in sending}
    later = NOW + timedelta(minutes=5)
    store.renew_claims("a", later)  # a was alive at later: its lease runs from then
    assert store.expire_claims(NOW + timedelta(minutes=11), [], timedelta(minutes=10)) == (
        store.expire_claims(NOW, [], timedelta(minutes=10))
    ), "a renewed claim does not expire"
    report = store.expire_claims(later + timedelta(minutes=11), [], timedelta(minutes=10))
    assert (report.unknown, report.released, report.requeued) == (2, 3, 0)
    for claim in sending:
        history = store.case_history(claim.case.id)
        assert history.reminders[0].state is ReminderState.UNKNOWN
        assert history.attempts[0]["outcome"] == "unknown"
    for claim in batch.claims[2:]:
        history = store.case_history(claim.case.id)
        assert history.reminders[0].state is ReminderState.PENDING
        assert history.reminders[0].tries == 0, "a try that sent nothing is not counted"
        assert history.attempts[0]["outcome"] == "released"
        assert not history.attempts[0]["counted"]
    again = store.claim_due(NOW + timedelta(minutes=30), 5, always(), timedelta(0), node="b")
    assert {c.case.id for c in again.claims} == {c.case.id for c in batch.claims[2:]}


def test_a_claim_whose_case_or_person_changed_is_given_back_before_sending(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 4)
    batch = store.claim_due(NOW, 4, always(), timedelta(0), node="a")
    by_case = {c.case.id: c for c in batch.claims}
    later = NOW + timedelta(seconds=1)
    store.case_event("C0", "paid", now=later)
    store.opt_out("P1", "sms", None, now=later, source="api")
    store.upsert(
        [],
        [CaseIn("C2", "P2", "12.50", "GBP", date(2026, 11, 1), "standard")],
        later,
    )
    confirmed = store.start_sending(batch.claims, "a", later)
    assert confirmed == {by_case["C3"].attempt_id}, "only the unchanged claim is confirmed"
    for case_id in ("C0", "C1", "C2"):
        history = store.case_history(case_id)
        assert history.reminders[0].state is ReminderState.PENDING
        assert history.reminders[0].tries == 0
        assert history.attempts[0]["outcome"] == "released"
    # The next claim decides again with what changed: paid, opted out, new amount.
    assert store.start_sending(batch.claims, "a", later) == {by_case["C3"].attempt_id}
    redo = store.claim_due(later, 4, _by_state, timedelta(0), node="a")
    verdicts = {r.case_id: d.verdict for r, d in redo.decided}
    assert verdicts == {"C0": Verdict.SUPPRESS, "C1": Verdict.SUPPRESS, "C2": Verdict.SEND}
    assert next(c for c in redo.claims if c.case.id == "C2").case.amount == "12.50"
    assert [o.channel for o in store.get_person("P1").opt_outs] == ["sms"]


def _by_state(
    reminder: Reminder, person: Person, case: Case, history: Sequence[Attempt]
) -> Decision:
    if case.state.value != "open" or person.opt_outs:
        return always(Verdict.SUPPRESS)(reminder, person, case, history)
    return always()(reminder, person, case, history)


def test_an_attempt_an_older_daemon_left_reserved_is_not_given_back(store) -> None:  # type: ignore[no-untyped-def]
    """Before schema 4 nothing marked a send as started: a reserved attempt may have gone
    out, so after the upgrade recovery treats it as sent (unknown), never as unsent."""
    _people(store, 1)
    store.claim_due(NOW, 1, always(), timedelta(0), node="a")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == SCHEMA_VERSION
    report = store.recover(NOW, [], node="a")
    assert (report.unknown, report.released) == (1, 0)


def test_a_late_record_does_not_take_back_a_reminder_settled_by_another_node(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    [claim] = store.claim_due(NOW, 1, always(), timedelta(0), node="a").claims
    store.start_sending([claim], "a", NOW)
    later = NOW + timedelta(minutes=11)
    assert store.expire_claims(later, ["sms"], timedelta(minutes=10)).requeued == 1
    [again] = store.claim_due(later, 1, always(), timedelta(0), node="b").claims
    store.record(placed([claim], later), node="a")
    history = store.case_history("C0")
    assert history.reminders[0].state is ReminderState.CLAIMED, "b's claim stands"
    outcomes = {a["id"]: a["outcome"] for a in history.attempts}
    assert outcomes[claim.attempt_id] == "unknown", "a's late word does not reopen a settled one"
    assert outcomes[again.attempt_id] == "reserved"
