"""A person's wishes in the store: each change a new row with its source and time (the
latest in force, the person's revision changed), the same wishes again recording nothing,
an import giving wishes only to a person with none on file, a version 14 store migrated."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from dispatcher.model import HourWish, Wishes
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, PersonIn
from dispatcher.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PERSON = PersonIn(id="P1", name="A", locale="en", phones=("+15550000001",))
CASE = CaseIn("C1", "P1", "10.00", "USD", date(2026, 11, 1), "standard")
CALLS = HourWish("not_between", time(9), time(17), "voice", frozenset(range(5)))
WISHES = Wishes(("sms",), (CALLS, HourWish("not_before", time(10))), "zh-CN")


def test_wishes_are_set_kept_and_replaced_with_their_history(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    store.upsert([PERSON], [CASE], NOW)
    before = store.get_person("P1").revision
    later = NOW + timedelta(minutes=5)
    assert store.set_wishes("P1", WISHES, now=later, source="cli") is True
    person = store.get_person("P1")
    assert person.wishes == WISHES and person.wishes.source == "cli"
    assert before < person.revision == later
    assert person.template_locale == "zh-CN" and person.locale == "en"
    # The same again records nothing.
    assert store.set_wishes("P1", WISHES, now=later, source="api:t") is False
    store.set_wishes("P1", Wishes(), now=NOW + timedelta(hours=1), source="api:t")
    assert not store.get_person("P1").wishes
    history = store.case_history("C1").wishes
    assert [(w.source, w.set_at, bool(w)) for w in history] == [
        ("cli", later, True),
        ("api:t", NOW + timedelta(hours=1), False),
    ]


def test_wishes_of_an_unknown_person_are_refused(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    with pytest.raises(LookupError, match="no person 'P9'"):
        store.set_wishes("P9", WISHES, now=NOW, source="cli")


def test_an_import_gives_wishes_only_to_a_person_with_none_on_file(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    imported = PersonIn(
        id="P1", name="A", locale="en", phones=("+15550000001",), wishes=Wishes(("sms",))
    )
    store.upsert([imported], [], NOW)
    assert store.get_person("P1").wishes == Wishes(("sms",))
    assert store.get_person("P1").wishes.source == "import"
    store.set_wishes("P1", Wishes(("voice",)), now=NOW, source="cli")
    store.upsert([imported], [], NOW + timedelta(days=1))  # the older file again
    assert store.get_person("P1").wishes == Wishes(("voice",))
    store.upsert([PERSON], [], NOW + timedelta(days=2))  # a row without wishes leaves them
    assert store.get_person("P1").wishes == Wishes(("voice",))


def test_a_version_14_store_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE wishes")
    conn.execute("UPDATE meta SET value='14' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    store = open_store(f"sqlite:///{path}")
    assert store.migrate() == SCHEMA_VERSION
    store.upsert([PERSON], [], NOW)
    store.set_wishes("P1", WISHES, now=NOW, source="cli")
    assert store.get_person("P1").wishes == WISHES
    store.close()
