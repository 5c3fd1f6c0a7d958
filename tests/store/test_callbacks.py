"""Delivery callbacks and opt-outs by number, on SQLite and PostgreSQL: an attempt's outcome
only moves forward, duplicates change nothing, an attempt left unknown by a crash is resolved,
a delivery that failed for a temporary reason is tried again up to the cap, and a STOP reply
reaches everyone who has that number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.model import ContactKind, ContactPoint, Outcome, ReminderState
from dispatcher.store.api import PersonIn, Retry, SendRecord
from tests.store import test_store
from tests.store.test_store import NOW, _people, always, placed

LATER = NOW + timedelta(minutes=1)
RETRY = Retry(after=timedelta(minutes=15), max_tries=3)

# The store suite's fixture: a real SQLite file, and PostgreSQL when it answers.
store = test_store.store


def _sent(store, provider_id: str | None = "SM1", at=NOW) -> str:  # type: ignore[no-untyped-def]
    """One reminder of P0 claimed and recorded placed at ``at``; its attempt id."""
    claim = next(
        c
        for c in store.claim_due(at, 10, always(), timedelta(0)).claims
        if c.reminder.case_id == "C0"
    )
    store.record(
        [
            SendRecord(
                attempt_id=claim.attempt_id,
                reminder_id=claim.reminder.id,
                outcome=Outcome.PLACED,
                counted=True,
                finished_at=at,
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
        retry=RETRY,  # a permanent failure is not tried again whatever the retry settings
    )
    attempt = _attempt(store, attempt_id)
    assert (attempt["outcome"], attempt["error_code"]) == ("failed-permanent", "30006")
    assert _reminder_state(store) is ReminderState.FAILED
    assert _phone(store, "P0").status == "invalid"
    assert _phone(store, "P1").status == "ok"
    # The person's revision moved: a claim waiting to send to them is checked again.
    assert store.get_person("P0").revision == LATER
    assert store.get_person("P1").revision != LATER

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
    store.record(placed([claim], LATER, provider_id="SM7"))
    attempt = _attempt(store, claim.attempt_id)
    assert (attempt["outcome"], attempt["provider_id"]) == ("delivered", "SM7")
    assert _reminder_state(store) is ReminderState.DELIVERED


def _undelivered(store, sid: str, code: str = "30003", retry=RETRY):  # type: ignore[no-untyped-def]
    return store.settle_attempt(
        attempt_id=None,
        provider_id=sid,
        outcome=Outcome.FAILED_TRANSIENT,
        now=LATER,
        error_code=code,
        retry=retry,
    )


def _reminder(store):  # type: ignore[no-untyped-def]
    history = store.case_history("C0")
    reminder = history.reminders[0]
    return reminder, history.reminder_reasons[reminder.id]


@pytest.mark.parametrize("code", ["30003", "30008"])
def test_a_temporary_delivery_failure_sends_the_reminder_back_with_a_backoff(store, code) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    attempt_id = _sent(store)
    settled = _undelivered(store, "SM1", code)
    assert settled and settled.retried and settled.person_id == "P0"
    assert (_attempt(store, attempt_id)["outcome"], _attempt(store, attempt_id)["error_code"]) == (
        "failed-transient",
        code,
    )
    reminder, reason = _reminder(store)
    assert (reminder.state, reason) == (ReminderState.PENDING, f"retry:{code}")
    assert reminder.due_at == LATER + timedelta(minutes=15)  # first try: reschedule_after
    assert reminder.tries == 1

    # A duplicate callback changes nothing: the reminder is not pushed back again.
    again = _undelivered(store, "SM1", code)
    assert not again and not again.retried
    assert _reminder(store)[0].due_at == LATER + timedelta(minutes=15)


def test_temporary_failures_double_the_backoff_and_give_up_at_max_tries(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    _sent(store, "SM1")
    assert _undelivered(store, "SM1").retried
    second = NOW + timedelta(hours=1)
    _sent(store, "SM2", at=second)
    assert _undelivered(store, "SM2").retried
    reminder, _ = _reminder(store)
    assert reminder.tries == 2
    assert reminder.due_at == LATER + timedelta(minutes=30)  # doubled for the second try

    _sent(store, "SM3", at=second + timedelta(hours=1))
    third = _undelivered(store, "SM3", "30008")
    assert third and not third.retried
    reminder, reason = _reminder(store)
    assert (reminder.state, reason, reminder.tries) == (ReminderState.FAILED, "gave_up:30008", 3)


def test_a_temporary_failure_leaves_a_reminder_that_moved_on_alone(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    _sent(store)
    # Delivered first (outranks the failure), so the late failure report changes nothing.
    assert store.settle_attempt(
        attempt_id=None, provider_id="SM1", outcome=Outcome.DELIVERED, now=LATER
    )
    assert not _undelivered(store, "SM1")
    assert _reminder_state(store) is ReminderState.DELIVERED


@pytest.mark.parametrize("resend", [False, True])
def test_a_temporary_failure_of_an_attempt_a_crash_left_unknown(store, resend) -> None:  # type: ignore[no-untyped-def]
    """Left unknown, the reminder is still ours to try again; already pending for a resend
    (``on_unknown = "resend"``), it has moved on and the report leaves it as it is."""
    _people(store, 1)
    [claim] = store.claim_due(NOW, 10, always(), timedelta(0)).claims
    store.start_sending([claim], "", NOW)
    store.recover(NOW, ["sms"] if resend else [])
    before = _reminder(store)
    settled = store.settle_attempt(
        attempt_id=claim.attempt_id,
        provider_id="SM9",
        outcome=Outcome.FAILED_TRANSIENT,
        now=LATER,
        error_code="30003",
        retry=RETRY,
    )
    assert settled, "the attempt itself is settled either way"
    assert _attempt(store, claim.attempt_id)["outcome"] == "failed-transient"
    if resend:
        assert not settled.retried and _reminder(store) == before
    else:
        assert settled.retried
        reminder, reason = _reminder(store)
        assert (reminder.state, reason) == (ReminderState.PENDING, "retry:30003")


def test_without_retry_settings_a_temporary_failure_leaves_the_reminder_sent(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    _sent(store)
    assert _undelivered(store, "SM1", retry=None)
    assert _reminder_state(store) is ReminderState.SENT


def test_a_failure_report_that_beats_the_record_stands(store) -> None:  # type: ignore[no-untyped-def]
    """30003 reported before the dispatcher's batched record: the reminder goes back to the
    queue all the same, and the late record does not make it ``sent``."""
    _people(store, 2)
    claims = store.claim_due(NOW, 10, always(), timedelta(0), node="n").claims
    store.start_sending(claims, "n", NOW)
    retry, failed = claims
    assert store.settle_attempt(
        attempt_id=retry.attempt_id,
        provider_id="SM1",
        outcome=Outcome.FAILED_TRANSIENT,
        error_code="30003",
        now=NOW,
        retry=Retry(after=timedelta(minutes=15), max_tries=5),
    ).retried
    store.settle_attempt(
        attempt_id=failed.attempt_id,
        provider_id="SM2",
        outcome=Outcome.FAILED_PERMANENT,
        error_code="30006",
        now=NOW,
    )
    store.record(placed(claims, LATER), node="n")
    states = {r.case_id: r for r in store.case_history(retry.case.id).reminders}
    again = states[retry.case.id]
    assert (again.state, again.due_at) == (ReminderState.PENDING, NOW + timedelta(minutes=15))
    [gone] = store.case_history(failed.case.id).reminders
    assert gone.state is ReminderState.FAILED
    outcomes = [a["outcome"] for a in store.case_history(failed.case.id).attempts]
    assert outcomes == ["failed-permanent"]
