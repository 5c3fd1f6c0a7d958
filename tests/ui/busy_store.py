"""A store with a bit of everything the overview counts, made through the store's own claim
and record paths: sends delivered, failed for good and for now, of unknown outcome,
deferrals (one or two reasons), suppressions, and reminders still waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatcher.model import ContactKind, Decision, Outcome, Reason, ReminderState, Verdict
from dispatcher.store.api import SendRecord, Store
from tests.conftest import Deployment, seed

# Per reminder, by its position in a channel's batch: what the policy says, then the outcome.
PLAN = (
    ("send", Outcome.DELIVERED, None),
    ("send", Outcome.FAILED_PERMANENT, "21211"),
    ("send", Outcome.FAILED_TRANSIENT, "30003"),
    ("send", Outcome.UNKNOWN, "channel_crash"),
    ("defer", None, None),
    ("defer2", None, None),
    ("suppress", None, None),
    ("send", Outcome.DELIVERED, None),
)


def _decide(now: datetime):  # type: ignore[no-untyped-def]
    def decide(reminder, person, case, history):  # type: ignore[no-untyped-def]
        kind = PLAN[int(person.id[1:]) % len(PLAN)][0]
        wanted = ContactKind.EMAIL if reminder.channel == "email" else ContactKind.PHONE
        contact = next(c for c in person.contacts if c.kind is wanted)
        if kind.startswith("defer"):
            reasons = (Reason("quiet_hours", "closed"),)
            if kind == "defer2":
                reasons += (Reason("limit_day", "daily cap"),)
            return Decision(Verdict.DEFER, now, until=now + timedelta(hours=3), reasons=reasons)
        if kind == "suppress":
            return Decision(Verdict.SUPPRESS, now, reasons=(Reason("opt_out", "opted out"),))
        return Decision(Verdict.SEND, now, contact=contact)

    return decide


def fill(dep: Deployment, per_channel: int = 16) -> None:
    """``per_channel`` people on sms and as many on email (cases ``C0``…), decided and sent
    as ``PLAN`` says, plus two reminders due tomorrow."""
    now = datetime.now(UTC)
    seed(dep, per_channel, channel="sms")
    seed(dep, per_channel, channel="email", start=per_channel)
    seed(dep, 2, start=2 * per_channel, due=now + timedelta(days=1))
    store = dep.store()
    try:
        batch = store.claim_due(now, 1000, _decide(now), timedelta(days=7), node="test-node")
        store.start_sending(batch.claims, "test-node", now)
        store.record(_records(store, batch.claims, now), node="test-node")
    finally:
        store.close()


def _records(store: Store, claims, now: datetime) -> list[SendRecord]:  # type: ignore[no-untyped-def]
    records = []
    for claim in claims:
        _, outcome, code = PLAN[int(claim.person.id[1:]) % len(PLAN)]
        state = {
            Outcome.DELIVERED: ReminderState.DELIVERED,
            Outcome.FAILED_PERMANENT: ReminderState.FAILED,
            Outcome.FAILED_TRANSIENT: ReminderState.PENDING,
            Outcome.UNKNOWN: ReminderState.UNKNOWN,
        }[outcome]
        records.append(
            SendRecord(
                attempt_id=claim.attempt_id,
                reminder_id=claim.reminder.id,
                outcome=outcome,
                counted=True,
                finished_at=now,
                reminder_state=state,
                error_code=code,
                reschedule_at=now + timedelta(minutes=30)
                if state is ReminderState.PENDING
                else None,
                channel=claim.reminder.channel,
            )
        )
    return records
