"""A SQLite file another writer holds locked for 30 s, under load: the daemon keeps running,
nothing is lost or sent twice, /readyz says 503 with the reason and 200 soon after, and the
sends resume by themselves."""

from __future__ import annotations

from dispatcher.testing.fault_run import SqliteWriteLock, run_fault
from tests.conftest import Deployment
from tests.faults.outages import REMINDERS, assert_survived


def test_a_sqlite_file_locked_by_another_writer_for_30s(open_deployment: Deployment) -> None:
    dep = open_deployment
    dep.store().close()  # the file exists before the other writer opens it
    lock = SqliteWriteLock(dep.db)
    result = run_fault(
        dep.config,
        dep.root,
        dep.outbox,
        dep.url,
        nodes=1,
        reminders=REMINDERS,
        seconds=30,
        begin=lock.start,
        end=lock.stop,
    )
    assert_survived(result)
