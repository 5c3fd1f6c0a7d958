"""A Breathing Space moratorium in the store (SQLite and PostgreSQL): kept on the case beside
its state, its start kept when a crisis moratorium is given its end, its early end resuming the
ladder where it stood; bankrupt and deceased as states; the schema upgrade that adds it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatcher.model import BreathingSpace, CaseState, Verdict
from dispatcher.store.api import NewReminder
from dispatcher.store.schema import SCHEMA_VERSION
from tests.store.test_store import NOW, _people, always

DAY = timedelta(days=1)


def _ladder(store, *days: int) -> None:  # type: ignore[no-untyped-def]
    """Steps of case C0 first due ``days`` from NOW (negative: past)."""
    store.add_reminders(
        [
            NewReminder(
                case_id="C0",
                person_id="P0",
                schedule="standard",
                step=f"s{d}",
                channel="sms",
                template="t",
                due_at=NOW + d * DAY,
            )
            for d in days
        ],
        [],
        NOW,
    )


def test_a_moratorium_is_kept_beside_the_state(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    store.case_event("C0", "hardship", now=NOW, until=NOW + 90 * DAY)
    case = store.case_event("C0", "breathing-space", now=NOW, until=NOW + 60 * DAY)
    assert case.state is CaseState.HARDSHIP and case.paused_until == NOW + 90 * DAY
    assert case.breathing_space == BreathingSpace(NOW, NOW + 60 * DAY, False)
    assert store.get_case("C0").breathing_space == case.breathing_space
    [event] = [e for e in store.case_history("C0").events if e["kind"] == "breathing-space"]
    assert event["until"] == NOW + 60 * DAY


def test_a_crisis_moratorium_keeps_its_start_when_its_end_is_recorded(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    case = store.case_event("C0", "breathing-space-crisis", now=NOW)
    assert case.breathing_space == BreathingSpace(NOW, None, True)
    later = NOW + 20 * DAY
    case = store.case_event("C0", "breathing-space-crisis", now=later, until=later + 30 * DAY)
    assert case.breathing_space == BreathingSpace(NOW, later + 30 * DAY, True)
    # A standard moratorium is a new one: it starts when recorded.
    case = store.case_event("C0", "breathing-space", now=later, until=later + 60 * DAY)
    assert case.breathing_space == BreathingSpace(later, later + 60 * DAY, False)


def test_ending_early_resumes_the_ladder_where_it_stood(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1, reminders_each=0)
    _ladder(store, -3, -2, 0, 5)
    store.case_event("C0", "breathing-space", now=NOW - 4 * DAY, until=NOW + 60 * DAY)
    store.claim_due(NOW, 10, always(Verdict.DEFER), timedelta(0))  # held: due later
    later = NOW + timedelta(hours=2)
    case = store.case_event("C0", "breathing-space-end", now=later, source="test")
    assert case.breathing_space is None
    due = {r.step: r.due_at for r in store.case_history("C0").reminders}
    # The first held step now, the next ones as far after it as they were; a step not yet
    # first due keeps its own instant.
    assert due == {"s-3": later, "s-2": later + DAY, "s0": later + 3 * DAY, "s5": NOW + 5 * DAY}


def test_a_new_end_brings_held_reminders_forward_to_be_decided_again(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    store.case_event("C0", "breathing-space", now=NOW, until=NOW + 60 * DAY)
    store.claim_due(NOW, 10, always(Verdict.DEFER), timedelta(0))
    later = NOW + timedelta(minutes=10)
    store.case_event("C0", "breathing-space", now=later, until=NOW + 10 * DAY)
    assert store.case_history("C0").reminders[0].due_at == later


def test_an_end_needs_a_running_moratorium(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    with pytest.raises(ValueError, match="no breathing space to end"):
        store.case_event("C0", "breathing-space-end", now=NOW)
    store.case_event("C0", "breathing-space", now=NOW, until=NOW + DAY)
    with pytest.raises(ValueError, match="no breathing space to end"):
        store.case_event("C0", "breathing-space-end", now=NOW + 2 * DAY)  # over already
    with pytest.raises(ValueError, match="--until"):
        store.case_event("C0", "breathing-space", now=NOW)
    with pytest.raises(ValueError, match="moratorium's end: must be in the future"):
        store.case_event("C0", "breathing-space-crisis", now=NOW, until=NOW - DAY)


@pytest.mark.parametrize("state", [CaseState.BANKRUPT, CaseState.DECEASED])
def test_bankrupt_and_deceased_are_states_that_keep_reminders_pending(store, state) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    case = store.case_event("C0", state.value, now=NOW, source="test")
    assert case.state is state
    # Not cancelled by the event: the policy suppresses each but the templates it allows.
    assert store.case_history("C0").reminders[0].state.value == "pending"
    assert store.case_event("C0", "resume", now=NOW).state is CaseState.OPEN


def test_a_store_of_version_12_gains_the_moratorium_columns(store) -> None:  # type: ignore[no-untyped-def]
    _people(store, 1)
    with store.engine.begin() as conn:
        for name in ("breathing_space", "breathing_space_start", "breathing_space_until"):
            conn.exec_driver_sql(f"ALTER TABLE cases DROP COLUMN {name}")
        conn.exec_driver_sql("UPDATE meta SET value = '12' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert store.migrate() == SCHEMA_VERSION
    assert store.get_case("C0").breathing_space is None
    case = store.case_event("C0", "breathing-space", now=NOW, until=NOW + DAY)
    assert case.breathing_space is not None
