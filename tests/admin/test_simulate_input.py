"""``stored_input``: people and cases read back from a real store become exactly the input
they were imported from, with the opt-outs on file beside them, and an address the provider
called invalid left out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

from dispatcher.admin.simulate import stored_input
from dispatcher.model import HourWish, Wishes
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, PersonIn

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PERSON = PersonIn(
    id="P1",
    name="Ann One",
    locale="en",
    timezone="America/New_York",
    phones=("+12125550101", "+12125550102"),
    emails=("a@example.com",),
    addresses=("1 Example Street\nNew York, NY 10001",),
    consents=(("voice", "+12125550101"),),
    wishes=Wishes(("sms",), (HourWish("not_before", time(10)),), "zh-CN"),
)
CASES = [
    CaseIn("C1", "P1", "500.00", "USD", date(2026, 11, 1), "standard"),
    CaseIn("C2", "P1", "80.00", "USD", date(2026, 10, 1), "gentle", "plan", NOW.replace(day=30)),
]


def test_stored_people_and_cases_come_back_as_their_input(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        store.upsert([PERSON], CASES, NOW)
        store.opt_out("P1", "email", None, now=NOW, source="test")
        person = store.get_person("P1")
        cases = [store.get_case("C1"), store.get_case("C2")]
    finally:
        store.close()
    assert person is not None and None not in cases
    people, taken, opt_outs = stored_input([person], cases)  # type: ignore[arg-type]
    assert people == [PERSON] and taken == CASES
    assert opt_outs == [("P1", "email", None)]


def test_an_invalid_address_is_left_out(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        store.upsert([PERSON], CASES[:1], NOW)
        person = store.get_person("P1")
    finally:
        store.close()
    assert person is not None
    contacts = tuple(
        replace(c, status="invalid") if c.value == PERSON.phones[0] else c for c in person.contacts
    )
    people, _, _ = stored_input([replace(person, contacts=contacts)], [])
    assert people[0].phones == PERSON.phones[1:]
    assert (people[0].emails, people[0].addresses) == (PERSON.emails, PERSON.addresses)
