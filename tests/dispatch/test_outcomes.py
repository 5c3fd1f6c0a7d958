"""What a send's result or error becomes, with plain values: sent, failed for good, of
unknown outcome (not sent again), back to the queue, given up; and what is counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dispatcher.channel import PermanentError, SendResult, TransientError
from dispatcher.config.dispatcher_file import ChannelSettings, RetryRule
from dispatcher.dispatch.counters import Counters
from dispatcher.dispatch.outcomes import failed, refused, retry_later, sent
from dispatcher.dispatch.send import retried_in_process
from dispatcher.model import (
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    Decision,
    Outcome,
    Person,
    Reminder,
    ReminderState,
    Verdict,
)
from dispatcher.store.api import Claim

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SETTINGS = RetryRule(after=timedelta(minutes=15), growth=2.0, max_tries=3)
HOLD = ChannelSettings(plugin="sms")
RESEND = ChannelSettings(plugin="sms", on_unknown="resend")
PHONE = ContactPoint(1, ContactKind.PHONE, "+447911123400")


def claim(tries: int = 0) -> Claim:
    reminder = Reminder(7, "C0", "P0", "standard", "1", "sms", "first", NOW, NOW, tries=tries)
    return Claim(
        reminder=reminder,
        person=Person("P0", "Ann Lee", "en", "UTC", contacts=(PHONE,)),
        case=Case("C0", "P0", "10.00", "GBP", date(2026, 11, 1), CaseState.OPEN, "standard"),
        decision=Decision(Verdict.SEND, NOW, contact=PHONE),
        attempt_id="a-1",
        contact=PHONE,
    )


def test_a_send_the_provider_accepted_is_sent_and_counts() -> None:
    record = sent(claim(), SendResult(provider_id="SM1"), NOW)
    assert (record.outcome, record.reminder_state, record.counted) == (
        Outcome.PLACED,
        ReminderState.SENT,
        True,
    )
    assert (record.provider_id, record.detail, record.finished_at) == ("SM1", None, NOW)
    assert (record.channel, record.attempt_id, record.reminder_id) == ("sms", "a-1", 7)
    delivered = sent(claim(), SendResult(outcome=Outcome.DELIVERED, detail="250 ok"), NOW)
    assert (delivered.reminder_state, delivered.detail) == (ReminderState.DELIVERED, "250 ok")


@pytest.mark.parametrize(
    ("mark", "mark_contact", "opt_out"),
    [
        ("invalid", ("P0", "phone", "+447911123400", "invalid"), None),
        ("opted_out", None, ("P0", "sms", "+447911123400")),
        (None, None, None),
    ],
)
def test_a_permanent_refusal_fails_the_reminder_and_marks_the_contact(
    mark: str | None, mark_contact: tuple[str, ...] | None, opt_out: tuple[str, ...] | None
) -> None:
    exc = PermanentError("unroutable", code="21612", mark_contact=mark)  # type: ignore[arg-type]
    record = refused(claim(), exc, SETTINGS, HOLD, NOW)
    assert (record.outcome, record.reminder_state) == (
        Outcome.FAILED_PERMANENT,
        ReminderState.FAILED,
    )
    assert (record.error_code, record.counted) == ("21612", False)
    assert (record.mark_contact, record.opt_out) == (mark_contact, opt_out)


def test_a_transient_refusal_is_rescheduled_after_the_backoff_or_the_providers_hint() -> None:
    record = refused(claim(tries=1), TransientError("busy", code="503"), SETTINGS, HOLD, NOW)
    assert (record.outcome, record.reminder_state) == (
        Outcome.FAILED_TRANSIENT,
        ReminderState.PENDING,
    )
    assert record.reschedule_at == NOW + timedelta(minutes=30), "15m doubled per try"
    assert (record.error_code, record.counted, record.spent_try) == ("503", False, True)
    hinted = TransientError("busy", retry_after=3600)
    later = refused(claim(tries=1), hinted, SETTINGS, HOLD, NOW)
    assert later.reschedule_at == NOW + timedelta(hours=1)
    assert later.error_code == "transient"


def test_the_last_try_gives_up_unless_the_channel_is_down() -> None:
    last = refused(claim(tries=2), TransientError("busy", code="503"), SETTINGS, HOLD, NOW)
    assert (last.reminder_state, last.error_code, last.reschedule_at) == (
        ReminderState.FAILED,
        "gave_up:503",
        None,
    )
    down = TransientError("login refused", code="535", channel_down=True)
    waits = refused(claim(tries=2), down, SETTINGS, HOLD, NOW)
    assert (waits.reminder_state, waits.spent_try) == (ReminderState.PENDING, False)


def test_a_timeout_after_the_request_went_out_is_unknown_unless_the_channel_resends() -> None:
    exc = TransientError("no answer", code="timeout", attempted=True)
    held = refused(claim(), exc, SETTINGS, HOLD, NOW)
    assert (held.outcome, held.reminder_state, held.counted) == (
        Outcome.UNKNOWN,
        ReminderState.UNKNOWN,
        True,
    )
    assert held.reschedule_at is None
    resent = refused(claim(), exc, SETTINGS, RESEND, NOW)
    assert (resent.reminder_state, resent.counted) == (ReminderState.PENDING, True)
    gone = refused(claim(), exc, SETTINGS, None, NOW)  # the channel left the config
    assert gone.reminder_state is ReminderState.UNKNOWN


def test_a_plugin_crash_is_of_unknown_outcome() -> None:
    record = refused(claim(), RuntimeError("bug"), SETTINGS, HOLD, NOW)
    assert (record.outcome, record.error_code, record.counted) == (
        Outcome.UNKNOWN,
        "channel_crash",
        True,
    )
    assert record.detail == "RuntimeError('bug')"


def test_no_message_fails_the_reminder_without_an_attempt() -> None:
    record = failed(claim(), "template_error", "x" * 600, NOW)
    assert (record.reminder_state, record.counted, record.error_code) == (
        ReminderState.FAILED,
        False,
        "template_error",
    )
    assert record.detail == "x" * 500


def test_a_policy_recheck_goes_back_at_once_without_spending_a_try() -> None:
    record = retry_later(
        claim(tries=2), NOW, "policy_recheck", max_tries=3, now=NOW, counted=False, spend=False
    )
    assert (record.reminder_state, record.reschedule_at, record.spent_try) == (
        ReminderState.PENDING,
        NOW,
        False,
    )


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (TransientError("busy"), True),
        (TransientError("busy", retry_after=0.5), True),
        (TransientError("busy", retry_after=5), False),
        (TransientError("no answer", attempted=True), False),
        (PermanentError("unroutable"), False),
    ],
)
def test_only_a_short_refusal_that_contacted_nobody_is_retried_in_process(
    exc: Exception, retried: bool
) -> None:
    assert retried_in_process(exc, max_wait=1.0) is retried


def test_counters_count_each_record_by_the_state_it_leaves() -> None:
    counters = Counters()
    done = sent(claim(), SendResult(), NOW)
    for record in (
        done,
        failed(claim(), "channel_gone", "gone", NOW),
        refused(claim(), RuntimeError("bug"), SETTINGS, HOLD, NOW),
        refused(claim(), TransientError("busy"), SETTINGS, HOLD, NOW),
    ):
        counters.count(record)
    assert (counters.sent, counters.failed, counters.unknown) == (1, 1, 1)
    assert counters.last_send == NOW
