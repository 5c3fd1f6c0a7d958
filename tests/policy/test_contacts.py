"""Choosing an address: opt-outs per channel and per address, dead addresses, priority."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dispatcher.model import ContactKind, ContactPoint, OptOut, Verdict
from dispatcher.policy.contacts import choose_contact
from tests.policy.conftest import (
    CONTACTS,
    EMAIL_1,
    NEW_YORK,
    PHONE_1,
    PHONE_2,
    POSTAL_1,
    codes,
    decide_at,
    local,
    make_person,
    make_reminder,
    policy,
)

NOW = local(NEW_YORK, 2026, 6, 10, 12, 0)
COMPILED = policy()
PHONE_3 = ContactPoint(5, ContactKind.PHONE, "+15550000003", priority=2)


def with_status(contact: ContactPoint, status: str) -> ContactPoint:
    return ContactPoint(contact.id, contact.kind, contact.value, status, contact.priority)


@pytest.mark.parametrize(
    ("channel", "opt_outs", "chosen", "code"),
    [
        ("sms", [], PHONE_1, None),
        ("sms", [OptOut("sms")], None, "opt_out"),
        ("sms", [OptOut("*")], None, "opt_out"),
        ("email", [OptOut("*")], None, "opt_out"),
        ("voice", [OptOut("sms")], PHONE_1, None),  # the opt-out names sms only
        ("email", [OptOut("sms")], EMAIL_1, None),
        ("sms", [OptOut("sms", PHONE_1.value)], PHONE_2, None),
        ("sms", [OptOut("*", PHONE_1.value)], PHONE_2, None),
        ("voice", [OptOut("sms", PHONE_1.value)], PHONE_1, None),
        ("sms", [OptOut("sms", PHONE_1.value), OptOut("sms", PHONE_2.value)], None, "opt_out"),
        ("sms", [OptOut("sms", PHONE_1.value), OptOut("*", PHONE_2.value)], None, "opt_out"),
        ("sms", [OptOut("sms", EMAIL_1.value)], PHONE_1, None),
        ("letter", [OptOut("sms")], POSTAL_1, None),
    ],
)
def test_opt_outs(
    channel: str, opt_outs: Sequence[OptOut], chosen: ContactPoint | None, code: str | None
) -> None:
    decision = decide_at(
        COMPILED,
        NOW,
        reminder=make_reminder(channel=channel),
        person=make_person(opt_outs=opt_outs),
    )
    if chosen is None:
        assert decision.verdict is Verdict.SUPPRESS
        assert codes(decision) == [code]
        assert not decision.cancels
    else:
        assert decision.verdict is Verdict.SEND
        assert decision.contact == chosen


@pytest.mark.parametrize(
    ("contacts", "chosen", "code"),
    [
        ([with_status(PHONE_1, "invalid"), PHONE_2], PHONE_2, None),
        ([with_status(PHONE_1, "opted_out"), PHONE_2], PHONE_2, None),
        (
            [with_status(PHONE_1, "invalid"), with_status(PHONE_2, "invalid")],
            None,
            "contact_invalid",
        ),
        ([with_status(PHONE_1, "opted_out"), with_status(PHONE_2, "opted_out")], None, "opt_out"),
        ([EMAIL_1, POSTAL_1], None, "no_contact"),
        ([], None, "no_contact"),
    ],
)
def test_address_status(
    contacts: Sequence[ContactPoint], chosen: ContactPoint | None, code: str | None
) -> None:
    decision = decide_at(COMPILED, NOW, person=make_person(contacts=contacts))
    if chosen is None:
        assert decision.verdict is Verdict.SUPPRESS
        assert codes(decision) == [code]
        assert decision.reasons[0].text
    else:
        assert decision.verdict is Verdict.SEND
        assert decision.contact == chosen


@pytest.mark.parametrize(
    ("contacts", "chosen"),
    [
        ([PHONE_1, PHONE_2, PHONE_3], PHONE_1),
        ([PHONE_3, PHONE_2, PHONE_1], PHONE_1),  # the order on file does not matter
        ([PHONE_3, PHONE_2], PHONE_2),
        ([with_status(PHONE_1, "invalid"), PHONE_3, PHONE_2], PHONE_2),
        # Equal priority: the older address (lower id) first.
        (
            [
                ContactPoint(9, ContactKind.PHONE, "+15550000009"),
                ContactPoint(7, ContactKind.PHONE, "+15550000007"),
            ],
            ContactPoint(7, ContactKind.PHONE, "+15550000007"),
        ),
    ],
)
def test_priority_orders_the_addresses(
    contacts: Sequence[ContactPoint], chosen: ContactPoint
) -> None:
    choice = choose_contact(make_person(contacts=contacts), "sms", ContactKind.PHONE)
    assert choice.contact == chosen
    assert choice.reason is None


def test_opted_out_address_passes_to_the_next_by_priority() -> None:
    who = make_person(contacts=[PHONE_3, PHONE_2, PHONE_1], opt_outs=[OptOut("sms", PHONE_1.value)])
    assert choose_contact(who, "sms", ContactKind.PHONE).contact == PHONE_2


def test_reasons_name_the_channel_or_kind() -> None:
    channel_wide = choose_contact(make_person(opt_outs=[OptOut("sms")]), "sms", ContactKind.PHONE)
    assert channel_wide.reason is not None
    assert "sms" in channel_wide.reason.text
    missing = choose_contact(make_person(contacts=[EMAIL_1]), "sms", ContactKind.PHONE)
    assert missing.reason is not None
    assert "phone" in missing.reason.text


def test_every_kind_is_matched_to_its_channel() -> None:
    who = make_person(contacts=CONTACTS)
    for channel, kind, expected in [
        ("sms", ContactKind.PHONE, PHONE_1),
        ("email", ContactKind.EMAIL, EMAIL_1),
        ("letter", ContactKind.POSTAL, POSTAL_1),
    ]:
        assert choose_contact(who, channel, kind).contact == expected
