"""What Twilio holds of an attempt whose outcome is unknown: the message or call itself,
fetched by SID when the attempt has one, else listed by recipient and sender (Twilio's list
filters; its resources do not return the status callback URL that names the attempt) and
matched by when it was created.

A resource created from the attempt's claim on (less a minute of clock skew), within
``MATCH_WINDOW``, means Twilio took it: ``sent``. None, once the attempt is older than
``SETTLED_AFTER`` (a creation Twilio accepted is listed at once), means it never reached
Twilio: ``not_sent``. A number that cannot be read, or a SID Twilio does not know, leaves the
attempt ``unknown``. An error that is not about one attempt (credentials refused, Twilio or the
network down) is raised: the daemon tries the page again next round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from twilio.base.exceptions import TwilioRestException

from dispatcher.channel import PermanentError, Reconciled, UnknownAttempt

# Created at most this long after the claim: a claim is sent within its lease (10 min by
# default) or recovered; an hour leaves room for a long lease and a slow sender's queue.
MATCH_WINDOW = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=1)
SETTLED_AFTER = timedelta(minutes=2)
LISTED = 100  # the most recent resources to one number looked at

# (recipient in E.164) -> when each resource to it from this sender was created
ListCreated = Callable[[str], Awaitable[Sequence[datetime | None]]]
# (SID) -> whether Twilio has it (raises TwilioRestException 404 when not)
Fetch = Callable[[str], Awaitable[object]]


async def reconcile_with(
    attempts: Sequence[UnknownAttempt],
    recipient: Callable[[str], str],
    list_created: ListCreated,
    fetch: Fetch,
    now: datetime | None = None,
) -> Mapping[str, Reconciled]:
    """An answer for each of ``attempts``, from ``fetch`` (by SID) or ``list_created``."""
    now = now or datetime.now(UTC)
    answers: dict[str, Reconciled] = {}
    listed: dict[str, Sequence[datetime | None]] = {}  # one listing per number per page
    for attempt in attempts:
        if attempt.provider_id:
            answers[attempt.attempt_id] = await _fetched(fetch, attempt.provider_id)
            continue
        try:
            to = recipient(attempt.contact)
        except PermanentError:  # not a number Twilio could have been asked to reach
            answers[attempt.attempt_id] = Reconciled.UNKNOWN
            continue
        if to not in listed:
            listed[to] = await list_created(to)
        answers[attempt.attempt_id] = _matched(attempt, listed[to], now)
    return answers


async def _fetched(fetch: Fetch, sid: str) -> Reconciled:
    try:
        await fetch(sid)
    except TwilioRestException as exc:
        if exc.status == 404:
            return Reconciled.UNKNOWN  # a SID we recorded but Twilio does not show
        raise
    return Reconciled.SENT


def _matched(
    attempt: UnknownAttempt, created: Sequence[datetime | None], now: datetime
) -> Reconciled:
    start = attempt.at - CLOCK_SKEW
    end = attempt.at + MATCH_WINDOW
    if any(when is not None and start <= when <= end for when in created):
        return Reconciled.SENT
    if now - attempt.at >= SETTLED_AFTER:
        return Reconciled.NOT_SENT
    return Reconciled.UNKNOWN
