"""Files holding personal data are created 0600 whatever the umask (the store and its -wal and
-shm files, outbox lines, letters and their manifests, backups), and ``backup`` never replaces
a file unless told to."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import DISPATCHER, Deployment, seed

PERSONAL = 0o600


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def under_umask_022(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``args`` in a process whose umask is the usual 022 (a test runner's may differ)."""
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def python_022(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return under_umask_022([sys.executable, "-c", textwrap.dedent(code)], cwd)


def test_the_store_and_its_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "var" / "dispatcher.db"
    # The -wal and -shm files exist while a connection is open: their modes are read then.
    result = python_022(
        f"""
        import os, stat
        from datetime import UTC, date, datetime
        from dispatcher.store import open_store
        from dispatcher.store.api import CaseIn, PersonIn
        store = open_store("sqlite:///{db}")
        person = PersonIn(id="P1", name="Pat", locale="en", timezone="UTC",
                          phones=("+12025550100",))
        case = CaseIn(id="C1", person_id="P1", amount="1.00", currency="USD",
                      due_date=date(2026, 1, 1), schedule="standard")
        store.upsert([person], [case], datetime.now(UTC))
        for suffix in ("", "-wal", "-shm"):
            print(suffix or "db", oct(stat.S_IMODE(os.stat("{db}" + suffix).st_mode)))
        store.close()
        """,
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db", "0o600", "-wal", "0o600", "-shm", "0o600"]


def test_outbox_lines_and_letters_are_0600(tmp_path: Path) -> None:
    result = python_022(
        f"""
        import asyncio, os, stat
        from pathlib import Path
        from dispatcher.channel import Message
        from dispatcher_plugins.outbox import OutboxChannel
        from dispatcher_plugins.letter.spool import Spool

        settings = OutboxChannel.Settings(directory="{tmp_path}/outbox", contact="phone")
        channel = OutboxChannel("sms", settings)
        message = Message(attempt_id="A-1", reminder_id=1, case_id="C1", person_id="P1",
                          channel="sms", contact_kind="phone", contact="+12025550100",
                          locale="en", template="t", body="hello")
        async def send():
            await channel.open()
            await channel.send(message)
            await channel.close()
        asyncio.run(send())
        Spool(Path("{tmp_path}/letters"), fsync=False).write("A-2", b"%PDF-1.4", {{"pages": 1}})
        for path in ("outbox/sms.jsonl", "letters/A-2.pdf", "letters/A-2.json"):
            print(path, oct(stat.S_IMODE(os.stat("{tmp_path}/" + path).st_mode)))
        """,
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "outbox/sms.jsonl",
        "0o600",
        "letters/A-2.pdf",
        "0o600",
        "letters/A-2.json",
        "0o600",
    ]


def test_a_backup_is_0600_and_an_existing_file_is_kept_without_force(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    dep = open_deployment
    seed(dep, 3)
    target = tmp_path / "backup.db"
    backup = [str(DISPATCHER), "--config", str(dep.config), "backup", str(target)]

    first = under_umask_022(backup, dep.root)
    assert first.returncode == 0, first.stderr
    assert mode(target) == PERSONAL
    assert mode(dep.db) == PERSONAL

    target.write_bytes(b"yesterday's backup")
    again = under_umask_022(backup, dep.root)
    assert again.returncode == 2
    assert "exists" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert target.read_bytes() == b"yesterday's backup"

    forced = under_umask_022([*backup, "--force"], dep.root)
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes().startswith(b"SQLite format 3")
    assert mode(target) == PERSONAL


def test_a_backup_into_a_missing_directory_is_a_clear_error(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    result = open_deployment.cli("backup", str(tmp_path / "no-such-dir" / "backup.db"))

    assert result.returncode == 2
    assert "no-such-dir" in result.stderr and "not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_an_older_version_left_world_readable_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    result = python_022(
        f"""
        import os, sqlite3
        conn = sqlite3.connect("{db}")  # as an older version left it: 0644, in WAL mode
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        os.chmod("{db}", 0o644)
        from dispatcher.store import open_store
        store = open_store("sqlite:///{db}")
        store.close()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert mode(db) & 0o007 == 0


def test_a_backup_onto_the_store_itself_is_refused_and_the_store_keeps_working(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    seed(dep, 2)
    result = dep.cli("backup", str(dep.db), "--force")
    assert result.returncode == 2 and "the store itself" in result.stderr
    assert "Traceback" not in result.stderr
    store = dep.store()
    assert store.get_case("C1") is not None
    store.close()


def test_a_backup_is_not_mixed_with_the_log_of_the_file_it_replaces(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    import sqlite3

    dep = open_deployment
    seed(dep, 2)
    target = tmp_path / "backup.db"
    # An old copy at the target, in WAL mode, whose last writes are still only in its log
    # (a tool that had it open died): a fresh copy must not have them replayed onto it.
    old = sqlite3.connect(target)
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("PRAGMA wal_autocheckpoint=0")
    old.execute("CREATE TABLE stale (x)")
    old.execute("INSERT INTO stale VALUES ('yesterday')")
    old.commit()
    stale_log = Path(f"{target}-wal").read_bytes()
    old.close()
    Path(f"{target}-wal").write_bytes(stale_log)  # left behind, as by a crash

    result = dep.cli("backup", str(target), "--force")
    assert result.returncode == 0, result.stderr
    copy = sqlite3.connect(target)
    try:
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
        assert "stale" not in tables and "cases" in tables
        assert copy.execute("SELECT count(*) FROM cases").fetchone()[0] == 2
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        copy.close()
