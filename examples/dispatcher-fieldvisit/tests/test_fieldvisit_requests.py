"""What the field-visit channel sends and how it reads the CRM's answers, against a real HTTP
server on the loopback interface that checks signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
from dispatcher_fieldvisit import FieldVisitChannel, FieldVisitSettings
from dispatcher_fieldvisit.answers import retry_after
from dispatcher_fieldvisit.fake_crm import FakeCrm
from pydantic import ValidationError

from dispatcher.channel import PermanentError, TransientError
from dispatcher.model import ContactKind
from dispatcher.testing import Reply, deliver, sample_message


def channel(settings: dict[str, Any]) -> FieldVisitChannel:
    return FieldVisitChannel("field_visit", FieldVisitSettings.model_validate(settings))


async def send_once(settings: dict[str, Any], message: Any = None) -> Any:
    visits = channel(settings)
    await visits.open()
    try:
        return await deliver(visits, message or sample_message(ContactKind.POSTAL))
    finally:
        await visits.close()


async def test_a_visit_task_reaches_the_crm_signed_and_keyed(
    crm: FakeCrm, settings: dict[str, Any], secret: str
) -> None:
    message = sample_message(ContactKind.POSTAL)

    result = await send_once(settings, message)

    assert crm.refusals == []
    [request] = crm.peer.received
    [task] = crm.tasks.values()
    assert result.provider_id == task["task_id"]
    assert request.headers["Idempotency-Key"] == message.attempt_id
    # The signature, recomputed here from its definition rather than with the plugin's code.
    timestamp = request.headers["X-Dispatcher-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["X-Dispatcher-Signature"] == "sha256=" + expected.hexdigest()
    assert (task["address"], task["brief"], task["case_id"], task["queue"]) == (
        message.contact,
        message.body,
        message.case_id,
        "north",
    )


async def test_a_wrong_secret_is_refused_by_the_crm(crm: FakeCrm, settings: dict[str, Any]) -> None:
    with pytest.raises(PermanentError, match="check the channel's secret"):
        await send_once({**settings, "secret": "not-the-shared-secret"})
    assert crm.refusals == ["bad_signature"] and crm.tasks == {}


async def test_the_same_attempt_sent_again_books_one_visit(
    crm: FakeCrm, settings: dict[str, Any]
) -> None:
    message = sample_message(ContactKind.POSTAL)
    first = await send_once(settings, message)
    again = await send_once(settings, message)
    assert crm.requests == 2 and len(crm.tasks) == 1
    assert first.provider_id == again.provider_id


@pytest.mark.parametrize(
    ("reply", "code", "retry"),
    [
        (Reply(503, headers={"Retry-After": "120"}), "http_503", 120.0),
        (Reply(429, json={"error": "too_many_tasks"}), "too_many_tasks", None),
        (Reply(408), "http_408", None),
    ],
)
async def test_refusals_before_booking_are_transient_and_not_attempted(
    crm: FakeCrm, settings: dict[str, Any], reply: Reply, code: str, retry: float | None
) -> None:
    with crm.peer.replying(reply), pytest.raises(TransientError) as raised:
        await send_once(settings)
    assert (raised.value.code, raised.value.retry_after) == (code, retry)
    assert not raised.value.attempted, "the core may retry at once, with the same key"


async def test_no_answer_counts_as_attempted_unreachable_does_not(
    crm: FakeCrm, settings: dict[str, Any]
) -> None:
    with crm.peer.replying(Reply(201, stall=5)), pytest.raises(TransientError) as no_answer:
        await send_once(settings)
    with crm.peer.down(), pytest.raises(TransientError) as unreachable:
        await send_once(settings)
    assert (no_answer.value.code, no_answer.value.attempted) == ("no_answer", True)
    assert (unreachable.value.code, unreachable.value.attempted) == ("connect", False)


async def test_an_address_the_crm_cannot_visit_is_marked_invalid(
    crm: FakeCrm, settings: dict[str, Any]
) -> None:
    refusal = Reply(422, json={"error": "address_invalid", "address": "17 Quarry Lane"})
    with crm.peer.replying(refusal), pytest.raises(PermanentError) as raised:
        await send_once(settings)
    assert raised.value.mark_contact == "invalid"
    assert "Quarry" not in str(raised.value), "the CRM's reply is not quoted"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 10, 21, 7, 0, tzinfo=UTC)
    assert retry_after("30", now) == 30.0
    assert retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now) == 28 * 60
    assert retry_after("Wed, 21 Oct 2026 06:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


@pytest.mark.parametrize(
    ("endpoint", "allow_insecure", "ok"),
    [
        ("https://crm.example.com/visits", False, True),
        ("http://127.0.0.1:8080/visits", False, True),
        ("http://[::1]:8080/visits", False, True),
        ("http://localhost/visits", False, True),
        ("http://crm.example.com/visits", False, False),
        ("http://crm.example.com/visits", True, True),
        ("ftp://crm.example.com/visits", True, False),
    ],
)
def test_endpoint_must_be_https_except_to_this_machine(
    settings: dict[str, Any], endpoint: str, allow_insecure: bool, ok: bool
) -> None:
    candidate = {**settings, "endpoint": endpoint, "allow_insecure": allow_insecure}
    if ok:
        FieldVisitSettings.model_validate(candidate)
    else:
        with pytest.raises(ValidationError, match="endpoint"):
            FieldVisitSettings.model_validate(candidate)


def test_the_secret_never_shows(settings: dict[str, Any], secret: str) -> None:
    valid = FieldVisitSettings.model_validate(settings)
    with pytest.raises(ValidationError) as raised:
        FieldVisitSettings.model_validate({**settings, "timeout": "forever"})
    assert secret not in repr(valid) + str(valid) + str(raised.value)
