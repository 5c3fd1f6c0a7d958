"""Outcomes: what became of one attempt, as the ``SendRecord`` to write. Plain functions of
the claim, the channel's result or error, the settings and ``now``: sent; failed for good
(permanent, or no message could be made); of unknown outcome, and then not sent again; or back
to the queue (transient) until ``max_tries`` gives up."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from dispatcher.channel import PermanentError, SendResult, TransientError
from dispatcher.config.dispatcher_file import ChannelSettings, RetryRule
from dispatcher.model import Outcome, ReminderState
from dispatcher.privacy import mask, scrub
from dispatcher.store.api import Claim, SendRecord

log = logging.getLogger("dispatcher.dispatch")


def record(
    claim: Claim,
    outcome: Outcome,
    state: ReminderState,
    *,
    now: datetime,
    counted: bool,
    **details: Any,
) -> SendRecord:
    """The outcome of ``claim``'s attempt, finished ``now``."""
    return SendRecord(
        channel=claim.reminder.channel,
        attempt_id=claim.attempt_id,
        reminder_id=claim.reminder.id,
        outcome=outcome,
        counted=counted,
        finished_at=now,
        reminder_state=state,
        **details,
    )


def sent(claim: Claim, result: SendResult, now: datetime) -> SendRecord:
    state = ReminderState.DELIVERED if result.outcome is Outcome.DELIVERED else ReminderState.SENT
    return record(
        claim,
        result.outcome,
        state,
        now=now,
        counted=True,
        provider_id=result.provider_id,
        detail=result.detail or None,
    )


def failed(claim: Claim, code: str, detail: str, now: datetime) -> SendRecord:
    """Nothing was sent and nothing will be: no channel or no message for the claim."""
    return record(
        claim,
        Outcome.FAILED_PERMANENT,
        ReminderState.FAILED,
        now=now,
        counted=False,
        error_code=code,
        detail=scrub(detail)[:500],
    )


def refused(
    claim: Claim,
    exc: Exception,
    retry: RetryRule,
    channel: ChannelSettings | None,
    now: datetime,
) -> SendRecord:
    """The record of a send whose channel raised ``exc`` (after the in-process retries);
    ``retry`` is the channel's long retries, ``channel`` its settings. Called while ``exc``
    is handled (a plugin's crash is logged with its traceback)."""
    if isinstance(exc, TransientError):
        return transient(claim, exc, retry, channel, now)
    if isinstance(exc, PermanentError):
        return permanent(claim, exc, now)
    return crashed(claim, exc, now)


def permanent(claim: Claim, exc: PermanentError, now: datetime) -> SendRecord:
    reminder = claim.reminder
    log.warning(
        "permanent failure",
        extra={
            "fields": {
                "reminder": reminder.id,
                "channel": reminder.channel,
                "code": exc.code,
                "to": mask(claim.contact.kind, claim.contact.value),
                "error": scrub(str(exc)),
            }
        },
    )
    mark = None
    opt_out = None
    if exc.mark_contact == "invalid":
        mark = (reminder.person_id, claim.contact.kind.value, claim.contact.value, "invalid")
    elif exc.mark_contact == "opted_out":
        opt_out = (reminder.person_id, reminder.channel, claim.contact.value)
    return record(
        claim,
        Outcome.FAILED_PERMANENT,
        ReminderState.FAILED,
        now=now,
        counted=exc.attempted,
        error_code=exc.code or "permanent",
        detail=scrub(str(exc))[:500],
        mark_contact=mark,
        opt_out=opt_out,
    )


def transient(
    claim: Claim,
    exc: TransientError,
    retry: RetryRule,
    channel: ChannelSettings | None,
    now: datetime,
) -> SendRecord:
    resends_unknown = channel is not None and channel.on_unknown == "resend"
    if exc.attempted and not resends_unknown:
        # The provider may have delivered it (a timeout after the request went out):
        # as after a crash, its fate is unknown and it is not sent again.
        log.warning(
            "send of unknown outcome, not repeated",
            extra={
                "fields": {
                    "reminder": claim.reminder.id,
                    "channel": claim.reminder.channel,
                    "code": exc.code,
                    "error": scrub(str(exc)),
                }
            },
        )
        return record(
            claim,
            Outcome.UNKNOWN,
            ReminderState.UNKNOWN,
            now=now,
            counted=True,
            error_code=exc.code or "unknown",
            detail=scrub(str(exc))[:500],
        )
    wait = retry.wait(claim.reminder.tries)
    if exc.retry_after:
        wait = max(wait, timedelta(seconds=exc.retry_after))
    log.info(
        "transient failure, rescheduled",
        extra={
            "fields": {
                "reminder": claim.reminder.id,
                "channel": claim.reminder.channel,
                "code": exc.code,
                "retry_in_s": int(wait.total_seconds()),
                "error": scrub(str(exc)),
            }
        },
    )
    return retry_later(
        claim,
        now + wait,
        exc.code or "transient",
        max_tries=retry.max_tries,
        now=now,
        counted=exc.attempted,
        detail=scrub(str(exc))[:500],
        spend=not exc.channel_down,
        expired=retry.expired(claim.reminder.tries),
    )


def crashed(claim: Claim, exc: Exception, now: datetime) -> SendRecord:
    """A plugin bug: we cannot know whether anyone was contacted. The log carries ``exc``'s
    traceback."""
    log.error(
        "channel raised an unexpected error",
        exc_info=exc,
        extra={
            "fields": {
                "reminder": claim.reminder.id,
                "channel": claim.reminder.channel,
                "error": scrub(str(exc)),
            }
        },
    )
    return record(
        claim,
        Outcome.UNKNOWN,
        ReminderState.UNKNOWN,
        now=now,
        counted=True,
        error_code="channel_crash",
        detail=scrub(repr(exc))[:500],
    )


def retry_later(
    claim: Claim,
    at: datetime,
    code: str,
    *,
    max_tries: int,
    now: datetime,
    counted: bool,
    detail: str | None = None,
    spend: bool = True,
    expired: bool = False,
) -> SendRecord:
    """Back to the queue at ``at``; with ``spend``, the claim's try counts toward
    ``max_tries``, and ``expired`` (the channel's ``give_up_after`` reached) ends it too:
    then the reminder gives up."""
    tries = claim.reminder.tries + 1
    if spend and (tries >= max_tries or expired):
        return record(
            claim,
            Outcome.FAILED_TRANSIENT,
            ReminderState.FAILED,
            now=now,
            counted=counted,
            error_code=f"gave_up:{code}",
            detail=detail,
        )
    return record(
        claim,
        Outcome.FAILED_TRANSIENT,
        ReminderState.PENDING,
        now=now,
        counted=counted,
        error_code=code,
        detail=detail,
        reschedule_at=at,
        spent_try=spend,
    )
