"""The field-visit channel's ``reconcile``: an unknown visit is posted again under its attempt
id, which the CRM books once, so it is ``sent`` whether the CRM had it or not and never booked
twice; one the core gave no message for stays ``unknown``; a refusal is ``not_sent``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dispatcher_fieldvisit import FieldVisitChannel, FieldVisitSettings
from dispatcher_fieldvisit.fake_crm import FakeCrm

from dispatcher.channel import Message, Reconciled, UnknownAttempt
from dispatcher.model import ContactKind
from dispatcher.testing import Reply, sample_message


def unknown(message: Message | None, aid: str = "") -> UnknownAttempt:
    return UnknownAttempt(
        attempt_id=message.attempt_id if message else aid,
        reminder_id=1,
        channel="field_visit",
        contact="1 Example Road",
        at=datetime.now(UTC),
        message=message,
    )


async def reconciled(settings: dict[str, Any], attempts: list[UnknownAttempt]) -> Any:
    visits = FieldVisitChannel("field_visit", FieldVisitSettings.model_validate(settings))
    await visits.open()
    try:
        return await visits.reconcile(attempts)
    finally:
        await visits.close()


async def test_a_visit_is_booked_once_whatever_the_crm_had(
    crm: FakeCrm, settings: dict[str, Any]
) -> None:
    booked, lost = sample_message(ContactKind.POSTAL), sample_message(ContactKind.POSTAL)
    crm.tasks[booked.attempt_id] = {"task_id": "VT-before-the-crash"}
    answers = await reconciled(settings, [unknown(booked), unknown(lost), unknown(None, "x")])
    assert answers == {
        booked.attempt_id: Reconciled.SENT,
        lost.attempt_id: Reconciled.SENT,
        "x": Reconciled.UNKNOWN,
    }
    assert sorted(crm.tasks) == sorted([booked.attempt_id, lost.attempt_id])
    assert crm.requests == 2


async def test_a_refusal_is_not_sent(crm: FakeCrm, settings: dict[str, Any]) -> None:
    message = sample_message(ContactKind.POSTAL)
    with crm.peer.replying(Reply(422, json={"error": "address_unknown"})):
        answers = await reconciled(settings, [unknown(message)])
    assert answers == {message.attempt_id: Reconciled.NOT_SENT}
