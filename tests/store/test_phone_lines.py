"""A phone number's line in the store (SQLite and PostgreSQL): kept as imported, replaced by a
re-import (a row that names none makes it not known), read back with the person; a version 15
store upgraded keeps its numbers, their line not known; a move to another store keeps it."""

from __future__ import annotations

from pathlib import Path

from dispatcher.model import ContactKind, PhoneLine
from dispatcher.store import open_store
from dispatcher.store.api import PersonIn
from dispatcher.store.schema import SCHEMA_VERSION
from dispatcher.store.transfer import transfer
from tests.store.test_store import NOW, _people

WORK, MOBILE = "+16175550101", "+16175550102"
PERSON = PersonIn(
    id="P1",
    name="Pat Example",
    locale="en",
    timezone="America/New_York",
    phones=(WORK, MOBILE),
    emails=("p1@example.com",),
    phone_lines=(PhoneLine.WORK, PhoneLine.MOBILE),
)


def lines(store, person_id: str = "P1") -> dict[str, PhoneLine | None]:  # type: ignore[no-untyped-def]
    person = store.get_person(person_id)
    return {c.value: c.line for c in person.contacts if c.kind is ContactKind.PHONE}


def test_a_number_keeps_its_line(store) -> None:  # type: ignore[no-untyped-def]
    store.upsert([PERSON], [], NOW)
    assert lines(store) == {WORK: PhoneLine.WORK, MOBILE: PhoneLine.MOBILE}
    emails = [c for c in store.get_person("P1").contacts if c.kind is ContactKind.EMAIL]
    assert [c.line for c in emails] == [None]


def test_a_reimport_replaces_the_line(store) -> None:  # type: ignore[no-untyped-def]
    store.upsert([PERSON], [], NOW)
    store.opt_out("P1", "sms", WORK, now=NOW, source="test")
    swapped = PersonIn(**{**PERSON.__dict__, "phone_lines": (PhoneLine.OTHER, None)})
    store.upsert([swapped], [], NOW)
    assert lines(store) == {WORK: PhoneLine.OTHER, MOBILE: None}
    # Without any line the numbers are not known: never read looser than before.
    store.upsert([PersonIn(**{**PERSON.__dict__, "phone_lines": ()})], [], NOW)
    assert lines(store) == {WORK: None, MOBILE: None}
    # The opt-out on the number survived both.
    assert store.get_person("P1").opt_outs[0].contact == WORK


def test_a_version_15_store_keeps_its_numbers_of_no_known_line(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 2)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE contact_points DROP COLUMN line")
        conn.exec_driver_sql("UPDATE meta SET value = '15' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == SCHEMA_VERSION == 17
    assert lines(store, "P0") == {"+447911123400": None}
    assert lines(store, "P1") == {"+447911123401": None}
    store.upsert([PERSON], [], NOW)  # and a line can be given from then on
    assert lines(store)[WORK] is PhoneLine.WORK


def test_a_moved_store_keeps_the_lines(tmp_path: Path) -> None:
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("first.db", "second.db"))
    store = open_store(first)
    store.upsert([PERSON], [], NOW)
    store.close()
    reports = transfer(first, second)
    assert all(r.ok for r in reports), reports
    moved = open_store(second)
    assert lines(moved) == {WORK: PhoneLine.WORK, MOBILE: PhoneLine.MOBILE}
    moved.close()
