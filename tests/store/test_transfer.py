"""Moving a store SQLite → PostgreSQL → SQLite: every row arrives, checksums prove it, and
the moved store works."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.model import ContactKind, Decision, Verdict
from dispatcher.store import open_store
from dispatcher.store.api import NewReminder
from dispatcher.store.transfer import transfer
from tests.store.test_store import NOW, _people, placed


def _busy_store(url: str) -> None:
    """A store with something in every table."""
    store = open_store(url)
    _people(store, 30, reminders_each=3)
    store.opt_out("P1", "sms", None, now=NOW, source="test")
    store.case_event("C2", "plan", now=NOW, until=NOW + timedelta(days=9))

    def decide(reminder, person, case, history):  # type: ignore[no-untyped-def]
        contact = next(c for c in person.contacts if c.kind is ContactKind.PHONE)
        return Decision(Verdict.SEND, NOW, contact=contact)

    batch = store.claim_due(NOW, 20, decide, timedelta(days=1), node="n")
    records = [replace(r, provider_id=f"p{i}") for i, r in enumerate(placed(batch.claims))]
    store.record(records, node="n")
    store.close()


def test_sqlite_to_postgresql_and_back_round_trips(tmp_path: Path, pg_url: str) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    _busy_store(first)
    there = transfer(first, pg_url)
    assert all(r.ok for r in there), there
    rows = {r.table: r.source_rows for r in there}
    # 30 people × 3 reminders; 20 of them decided (sent); one opt-out; one plan event.
    assert (rows["reminders"], rows["decisions"], rows["attempts"]) == (90, 20, 20)
    assert (rows["opt_outs"], rows["case_events"], rows["people"]) == (1, 1, 30)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    again = transfer(pg_url, back)
    assert all(r.ok for r in again)
    assert [r.source_checksum for r in there] == [r.target_checksum for r in again], (
        "the round trip changes nothing"
    )

    moved = open_store(pg_url)
    history = moved.case_history("C2")
    assert history.case.paused_until == NOW + timedelta(days=9)
    # New rows continue after the copied ids.
    new_id = moved.enqueue(
        NewReminder(
            case_id="C0",
            person_id="P0",
            schedule="x",
            step="new",
            channel="sms",
            template="t",
            due_at=NOW,
        ),
        NOW,
    )
    assert new_id > max(r.id for r in moved.case_history("C29").reminders)
    moved.close()


def test_refuses_a_target_that_is_not_empty(tmp_path: Path, pg_url: str) -> None:
    source = f"sqlite:///{tmp_path / 's.db'}"
    _busy_store(source)
    assert all(r.ok for r in transfer(source, pg_url))
    runner = CliRunner()
    result = runner.invoke(main, ["migrate", "--from", source, "--to", pg_url])
    assert result.exit_code == 2 and "not empty" in result.output


def test_migrate_command_prints_counts_and_checksums(tmp_path: Path, pg_url: str) -> None:
    source = f"sqlite:///{tmp_path / 's.db'}"
    _busy_store(source)
    result = CliRunner().invoke(main, ["migrate", "--from", source, "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert "reminders" in result.output and "90" in result.output
    assert "every table's rows and checksums match" in result.output
