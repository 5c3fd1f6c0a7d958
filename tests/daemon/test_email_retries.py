"""An SMTP 4yz through the real dispatch loop: the email channel's long retries follow RFC
5321 §4.5.4.1 (at least 30 minutes between tries, given up only after 4 days), a channel's
section of dispatcher.toml can set its own, and ``explain`` says when the next try is and
why."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.model import ReminderState
from dispatcher.runtime import load_runtime
from tests.conftest import Deployment
from tests.daemon.test_email import (  # noqa: F401  (fixtures)
    dispatch_until,
    emailing,
    reminder_states,
    smtp,
)
from tests.plugins.smtp_peer import SmtpPeer


def _one_refusal_per_claim(dep: Deployment) -> None:
    # No in-process retries: each claim meets the server once.
    dep.set("dispatcher.toml", r"^retry_attempts = \d+", "retry_attempts = 1")


def _set_tries(dep: Deployment, tries: int) -> None:
    conn = sqlite3.connect(dep.db)
    conn.execute("UPDATE reminders SET tries = ?", (tries,))
    conn.commit()
    conn.close()


def _reminder(dep: Deployment):  # type: ignore[no-untyped-def]
    store = dep.store()
    try:
        [reminder] = store.case_history("C1").reminders
    finally:
        store.close()
    return reminder


async def _refused_once(dep: Deployment, smtp: SmtpPeer) -> datetime:  # noqa: F811
    runtime = load_runtime(dep.config)
    await runtime.channels["email"].open()
    smtp.refuse("rcpt", 451)
    before = datetime.now(UTC)
    await dispatch_until(runtime, dep, lambda: smtp.refusals == [("rcpt", 451)])
    await dispatch_until(runtime, dep, lambda: _reminder(dep).state is not ReminderState.CLAIMED)
    await runtime.channels["email"].close()
    return before


async def test_a_451_comes_back_after_30_minutes_and_explain_says_so(
    emailing: Deployment,  # noqa: F811
    smtp: SmtpPeer,  # noqa: F811
) -> None:
    _one_refusal_per_claim(emailing)
    before = await _refused_once(emailing, smtp)
    reminder = _reminder(emailing)
    assert reminder.state is ReminderState.PENDING
    assert before + timedelta(minutes=30) <= reminder.due_at
    assert reminder.due_at <= datetime.now(UTC) + timedelta(minutes=30)
    explained = emailing.cli("explain", "C1")
    assert explained.returncode == 0, explained.stderr
    text = " ".join(explained.stdout.split())
    assert f"reminder {reminder.id}: next try {reminder.due_at:%Y-%m-%d %H:%M:%S} UTC" in text
    assert "after a temporary refusal (retry:451)" in text
    assert "email retries after 30m × 1.5 per try, at most 30 tries" in text
    assert "giving up once the waits reach 4d" in text


@pytest.mark.parametrize(
    ("tries", "state", "reason"),
    [
        # Five claims: the [dispatch] max_tries would give up here; email goes on.
        (5, ReminderState.PENDING, "retry:451"),
        # The waits of 12 failures add up to 5.4 days: past 4 days, given up.
        (12, ReminderState.FAILED, "gave_up:451"),
    ],
)
async def test_an_email_is_given_up_only_after_four_days_of_retries(
    emailing: Deployment,  # noqa: F811
    smtp: SmtpPeer,  # noqa: F811
    tries: int,
    state: ReminderState,
    reason: str,
) -> None:
    _one_refusal_per_claim(emailing)
    _set_tries(emailing, tries)
    await _refused_once(emailing, smtp)
    [(found_state, found_reason)] = reminder_states(emailing).values()
    assert (found_state, found_reason) == (state, reason)


async def test_a_channel_section_sets_its_own_retries(
    emailing: Deployment,  # noqa: F811
    smtp: SmtpPeer,  # noqa: F811
) -> None:
    _one_refusal_per_claim(emailing)
    emailing.set(
        "dispatcher.toml",
        r"^\[channels\.email\]$",
        '[channels.email]\nreschedule_after = "2h"\nreschedule_growth = 1\nmax_tries = 2',
    )
    before = await _refused_once(emailing, smtp)
    reminder = _reminder(emailing)
    assert reminder.state is ReminderState.PENDING
    assert before + timedelta(hours=2) <= reminder.due_at <= datetime.now(UTC) + timedelta(hours=2)
    _set_tries(emailing, 1)
    conn = sqlite3.connect(emailing.db)
    conn.execute("UPDATE reminders SET due_at = '2000-01-01 00:00:00.000000'")
    conn.commit()
    conn.close()
    smtp.refusals.clear()
    await _refused_once(emailing, smtp)
    [(found_state, found_reason)] = reminder_states(emailing).values()
    assert (found_state, found_reason) == (ReminderState.FAILED, "gave_up:451")
