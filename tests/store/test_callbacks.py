"""Delivery callbacks and opt-outs by number, on SQLite and PostgreSQL: an attempt's outcome
only moves forward, duplicates change nothing, an attempt left unknown by a crash is resolved,
and a STOP reply reaches everyone who has that number."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.model import ContactKind, ContactPoint, Outcome, ReminderState
from dispatcher.store.api import PersonIn, SendRecord
from tests.store import test_store
from tests.store.test_store import NOW, _people, always

LATER = NOW + timedelta(minutes=1)

# The store suite's fixture: a real SQLite file, and PostgreSQL when it answers.
store = test_store.store


def _sent(store, provider_id: str | None = "SM1") -> str:  # type: ignore[no-untyped-def]
    """One reminder of P0 claimed and recorded placed; its attempt id."""
    claim = next(
        c
        for c in store.claim_due(NOW, 10, always(), timedelta(0)).claims
        if c.reminder.case_id == "C0"
    )
    store.record(
        [
            SendRecord(
                attempt_id=claim.attempt_id,
                reminder_id=claim.reminder.id,
                outcome=Outcome.PLACED,
                counted=True,
                finished_at=NOW,
                reminder_state=ReminderState.SENT,
                provider_id=provider_id,
            )
        ]
    )
    return claim.attempt_id


def _attempt(store, attempt_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    [row] = [a for a in store.case_history("C0").attempts if a["id"] == attempt_id]
    return row


def _phone(store, person_id: str) -> ContactPoint:  # type: ignore[no-untyped-def]
    return next(c for c in store.get_person(person_id).contacts if c.kind is ContactKind.PHONE)


def _reminder_state(store) -> ReminderState:  # type: ignore[no-untyped-def]
    return store.case_history("C0").reminders[0].state


def test_a_delivery_receipt_settles_the_attempt_once(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    attempt_id = _sent(store)
    settle = dict(attempt_id=None, provider_id="SM1", now=LATER)

    assert store.settle_attempt(outcome=Outcome.DELIVERED, **settle)
    assert _attempt(store, attempt_id)["outcome"] == "delivered"
    assert _reminder_state(store) is ReminderState.DELIVERED

    # A duplicate, and a late "sent" or failure report, change nothing.
    assert not store.settle_attempt(outcome=Outcome.DELIVERED, **settle)
    assert not store.settle_attempt(outcome=Outcome.PLACED, **settle)
    assert not store.settle_attempt(outcome=Outcome.FAILED_PERMANENT, **settle)
    assert _attempt(store, attempt_id)["outcome"] == "delivered"
    assert _reminder_state(store) is ReminderState.DELIVERED


def test_a_callback_for_no_known_attempt_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    attempt_id = _sent(store)
    assert not store.settle_attempt(
        attempt_id=None, provider_id="SM-other", outcome=Outcome.DELIVERED, now=LATER
    )
    assert not store.settle_attempt(
        attempt_id="nope", provider_id=None, outcome=Outcome.DELIVERED, now=LATER
    )
    # The attempt's own id with another message's provider id: not this attempt's callback.
    assert not store.settle_attempt(
        attempt_id=attempt_id, provider_id="SM-other", outcome=Outcome.DELIVERED, now=LATER
    )
    assert _attempt(store, attempt_id)["outcome"] == "placed"


def test_an_attempt_left_unknown_by_a_crash_is_resolved_by_its_callback(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    [claim] = store.claim_due(NOW, 10, always(), timedelta(0)).claims
    store.start_sending([claim], "", NOW)  # handed to the channel, then the daemon died
    assert store.recover(NOW, []).unknown == 1
    assert _reminder_state(store) is ReminderState.UNKNOWN

    assert store.settle_attempt(
        attempt_id=claim.attempt_id, provider_id="SM9", outcome=Outcome.PLACED, now=LATER
    )
    attempt = _attempt(store, claim.attempt_id)
    assert (attempt["outcome"], attempt["provider_id"]) == ("placed", "SM9")
    assert _reminder_state(store) is ReminderState.SENT

    # Later callbacks find it by the provider id recorded from the first.
    assert store.settle_attempt(
        attempt_id=None, provider_id="SM9", outcome=Outcome.DELIVERED, now=LATER
    )
    assert _reminder_state(store) is ReminderState.DELIVERED


def test_a_human_conversation_outranks_a_completed_call(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    attempt_id = _sent(store, "CA1")
    by_id = dict(attempt_id=attempt_id, provider_id="CA1", now=LATER)
    assert store.settle_attempt(outcome=Outcome.CONVERSATION, **by_id)
    assert not store.settle_attempt(outcome=Outcome.DELIVERED, **by_id)
    attempt = _attempt(store, attempt_id)
    assert attempt["outcome"] == "conversation" and attempt["counted"]


def test_an_undelivered_message_fails_its_reminder_and_marks_the_number(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 2)
    attempt_id = _sent(store)
    assert store.settle_attempt(
        attempt_id=None,
        provider_id="SM1",
        outcome=Outcome.FAILED_PERMANENT,
        now=LATER,
        error_code="30006",
        detail="landline or unreachable carrier",
        mark_contact="invalid",
    )
    attempt = _attempt(store, attempt_id)
    assert (attempt["outcome"], attempt["error_code"]) == ("failed-permanent", "30006")
    assert _reminder_state(store) is ReminderState.FAILED
    assert _phone(store, "P0").status == "invalid"
    assert _phone(store, "P1").status == "ok"

    # A delivery receipt after all: the person was reached.
    assert store.settle_attempt(
        attempt_id=None, provider_id="SM1", outcome=Outcome.DELIVERED, now=LATER
    )
    assert _reminder_state(store) is ReminderState.DELIVERED


def test_an_unsubscribed_error_in_a_callback_opts_the_number_out(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    _sent(store)
    store.settle_attempt(
        attempt_id=None,
        provider_id="SM1",
        outcome=Outcome.FAILED_PERMANENT,
        now=LATER,
        error_code="21610",
        mark_contact="opted_out",
    )
    person = store.get_person("P0")
    assert [(o.channel, o.contact) for o in person.opt_outs] == [("sms", _phone(store, "P0").value)]


def test_a_released_reservation_is_never_settled(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    batch = store.claim_due(NOW, 10, always(), timedelta(0))
    store.release(batch.claims, NOW)
    attempt_id = batch.claims[0].attempt_id
    assert not store.settle_attempt(
        attempt_id=attempt_id, provider_id="SM1", outcome=Outcome.DELIVERED, now=LATER
    )
    assert _attempt(store, attempt_id)["outcome"] == "released"


def test_an_opt_out_by_number_reaches_everyone_who_has_it(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 2)
    shared = _phone(store, "P0").value
    store.upsert(
        [PersonIn(id="P9", name="Other Name", locale="en", phones=("+15005550006", shared))],
        [],
        NOW,
    )
    opted = store.opt_out_contact(ContactKind.PHONE, shared, "sms", now=NOW, source="sms_stop")
    assert opted == ["P0", "P9"]
    for person_id in opted:
        assert [(o.channel, o.contact) for o in store.get_person(person_id).opt_outs] == [
            ("sms", shared)
        ]
    assert store.get_person("P1").opt_outs == ()
    # Twice is once.
    store.opt_out_contact(ContactKind.PHONE, shared, "sms", now=NOW, source="sms_stop")
    assert len(store.get_person("P0").opt_outs) == 1

    cleared = store.opt_out_contact(
        ContactKind.PHONE, shared, "sms", now=LATER, source="sms_start", clear=True
    )
    assert cleared == ["P0", "P9"]
    assert store.get_person("P0").opt_outs == () and store.get_person("P9").opt_outs == ()
    assert (
        store.opt_out_contact(ContactKind.PHONE, "+15005550009", "sms", now=NOW, source="x") == []
    )


def test_a_callback_that_beats_the_record_is_not_overwritten(store) -> None:  # type: ignore[no-untyped-def]
    """Outcomes are recorded in batches: the provider's delivery report can arrive first."""
    _people(store, 1)
    [claim] = store.claim_due(NOW, 10, always(), timedelta(0)).claims
    store.start_sending([claim], "", NOW)
    assert store.settle_attempt(
        attempt_id=claim.attempt_id, provider_id="SM7", outcome=Outcome.DELIVERED, now=NOW
    )
    store.record(
        [
            SendRecord(
                attempt_id=claim.attempt_id,
                reminder_id=claim.reminder.id,
                outcome=Outcome.PLACED,
                counted=True,
                finished_at=LATER,
                reminder_state=ReminderState.SENT,
                provider_id="SM7",
            )
        ]
    )
    attempt = _attempt(store, claim.attempt_id)
    assert (attempt["outcome"], attempt["provider_id"]) == ("delivered", "SM7")
    assert _reminder_state(store) is ReminderState.DELIVERED
