"""The store's upsert on a real SQLite file and on PostgreSQL: a case never moves to another
person, whoever calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from dispatcher.store import intake
from dispatcher.store.api import CaseIn, PersonIn
from tests.store.test_store import store  # noqa: F401 (the fixture)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ANN = PersonIn(id="P-1", name="Ann", locale="en", phones=("+447911123401",))
BOB = PersonIn(id="P-2", name="Bob", locale="en", phones=("+447911123402",))
CASE = CaseIn(
    id="C-1",
    person_id="P-1",
    amount="50",
    currency="GBP",
    due_date=date(2026, 11, 1),
    schedule="standard",
)


def test_a_case_given_with_another_person_is_refused_and_nothing_written(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert store.upsert([ANN], [CASE], NOW) == []
    other = replace(CASE, id="C-2", person_id="P-2")
    taken = replace(CASE, person_id="P-2", amount="1")

    assert store.upsert([BOB], [other, taken], NOW) == ["C-1"]
    assert store.get_person("P-2") is None and store.get_case("C-2") is None
    case = store.get_case("C-1")
    assert (case.person_id, case.amount) == ("P-1", "50")

    assert store.upsert([BOB], [other], NOW) == []
    assert store.get_case("C-2").person_id == "P-2"


def test_the_update_itself_only_touches_a_case_of_the_same_person(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # Even a caller that skips the check (or races another writer) cannot move a case.
    store.upsert([ANN, BOB], [CASE], NOW)
    with store._write() as conn:
        intake.upsert_cases(conn, [replace(CASE, person_id="P-2", amount="1")], NOW)
    case = store.get_case("C-1")
    assert (case.person_id, case.amount) == ("P-1", "50")

    store.upsert([ANN], [replace(CASE, amount="75", due_date=date(2026, 12, 1))], NOW)
    case = store.get_case("C-1")
    assert (case.amount, case.due_date) == ("75", date(2026, 12, 1))


def test_a_value_given_twice_in_one_call_is_written_once(store) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    twice = replace(ANN, phones=("+447911123401", "+447911123401", "+447911123409"))
    assert store.upsert([twice, replace(twice, name="Ann B")], [CASE, CASE], NOW) == []
    person = store.get_person("P-1")
    assert person.name == "Ann B", "the last row given for a key wins"
    assert sorted(c.value for c in person.contacts) == ["+447911123401", "+447911123409"]
