"""The SQLite store's write-ahead log is checkpointed by a thread of its own: the store's
connections never checkpoint in a commit, and what they wrote still reaches the database
file, while the store is open and at the latest when it closes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.store.api import PersonIn
from dispatcher.store.checkpoint import UNCHANGED_EVERY, Checkpointer
from dispatcher.store.sqlite import SqliteStore
from tests.conftest import wait_for


def _people(count: int) -> list[PersonIn]:
    return [
        PersonIn(
            id=f"P{i}", name=f"Name {i}", locale="en", timezone="UTC", phones=("+12125550100",)
        )
        for i in range(count)
    ]


def _in_database_file(path: Path) -> int:
    """People in the database file itself, ignoring the log (``immutable``): only what a
    checkpoint has copied back."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "people" not in tables:
            return 0
        count: int = conn.execute("SELECT count(*) FROM people").fetchone()[0]
        return count
    finally:
        conn.close()


def test_commits_do_not_checkpoint_and_the_checkpointer_copies_the_log_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(f"sqlite:///{path}")
    # Held open past the store's close: SQLite's own checkpoint when the last connection
    # closes cannot then be what copies the log back, only the checkpointer can.
    bystander = sqlite3.connect(path)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        store.upsert(_people(50), [], datetime.now(UTC))
        wait_for(lambda: _in_database_file(path) == 50, timeout=30, interval=0.05)
        store.upsert(_people(80), [], datetime.now(UTC))
    finally:
        store.close()
    try:
        assert _in_database_file(path) == 80  # by close nothing is left in the log alone
    finally:
        bystander.close()


def test_the_checkpointer_never_creates_the_database(tmp_path: Path) -> None:
    # The store creates its file itself, private; a checkpoint must not create one with
    # SQLite's default mode (say, after the file was moved away by a restore).
    path = tmp_path / "never-opened.db"
    checkpointer = Checkpointer(str(path), busy_timeout=1.0)
    checkpointer.stop()  # its last checkpoint ran against a file that does not exist
    assert not path.exists()


def test_a_commit_after_a_quiet_spell_still_reaches_the_database_file(tmp_path: Path) -> None:
    # While the log is unchanged the checkpointer only looks at it; the next commit changes
    # it, and is copied back while the store is still open.
    path = tmp_path / "store.db"
    store = SqliteStore(f"sqlite:///{path}")
    bystander = sqlite3.connect(path)  # no checkpoint at close can stand in for the thread's
    try:
        store.migrate()
        store.upsert(_people(10), [], datetime.now(UTC))
        wait_for(lambda: _in_database_file(path) == 10, timeout=30, interval=0.05)
        log = (tmp_path / "store.db-wal").stat()
        wait_for(  # a few of the checkpointer's turns with nothing written
            lambda: datetime.now(UTC).timestamp() > log.st_mtime + 1, timeout=30, interval=0.05
        )
        store.upsert(_people(25), [], datetime.now(UTC))
        # Sooner than the checkpoint made anyway now and then: the change itself is seen.
        wait_for(lambda: _in_database_file(path) == 25, timeout=UNCHANGED_EVERY - 1, interval=0.05)
    finally:
        store.close()
        bystander.close()
