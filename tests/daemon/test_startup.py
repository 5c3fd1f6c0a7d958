"""What the daemon says at start: the store's schema as start found and left it, the start
line (program and schema versions, the store URL without its password, the plugins with their
versions) and where to look next, each line with its syslog priority when stdout is the
journal. A daemon that cannot start says why in one line and exits 2."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from dispatcher.daemon.startup import open_and_upgrade, schema_note
from dispatcher.runtime.versions import PROGRAM_VERSION
from dispatcher.store.schema import SCHEMA_VERSION
from tests.conftest import Deployment, http_get, stop, wait_for


def test_the_schema_note_says_what_start_did_to_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    store, before = open_and_upgrade(url)
    store.close()
    assert before is None and schema_note(before) == f"created {SCHEMA_VERSION}"
    store, before = open_and_upgrade(url)
    store.close()
    assert before == SCHEMA_VERSION and schema_note(before) == str(SCHEMA_VERSION)
    assert schema_note(SCHEMA_VERSION - 2) == f"{SCHEMA_VERSION - 2}->{SCHEMA_VERSION}"


def _journal_run(dep: Deployment, log: Path) -> subprocess.Popen[str]:
    """The daemon with stdout on ``log``, which JOURNAL_STREAM names as systemd would."""
    handle = log.open("w")
    stat = os.fstat(handle.fileno())
    return dep.start(stdout=handle, env={"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"})


def test_the_start_line_and_where_to_look_next_on_the_journal(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    dep = open_deployment
    port = dep.listen_on_free_port()
    log = tmp_path / "journal.log"
    process = _journal_run(dep, log)
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout=60)
        wait_for(lambda: "msg=next:" in log.read_text() or 'msg="next:' in log.read_text())
    finally:
        stop(process)
    assert process.returncode == 0
    lines = log.read_text().splitlines()
    assert lines and all(re.match(r"<[2-7]>ts=", line) for line in lines), lines
    [started] = [line for line in lines if 'msg="dispatcher started"' in line]
    assert started.startswith("<6>")
    assert f"program={PROGRAM_VERSION} " in started
    assert f'schema="created {SCHEMA_VERSION}"' in started, "a new store: created at start"
    assert f"store=sqlite:///{dep.db} " in started
    assert re.search(r'plugins="(\w+ [\d.]+,?)+"', started) and "outbox 0.1.0" in started
    [nxt] = [line for line in lines if "next:" in line]
    assert f"http://127.0.0.1:{port}/ui/" in nxt and "status" in nxt


def test_a_store_url_password_never_reaches_the_log_and_a_failed_start_is_one_line(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    # Nothing listens on port 9 (discard): the store cannot be opened.
    dep.set(
        "dispatcher.toml",
        r'^store = ".*"$',
        'store = "postgresql://dispatcher:s3cret-pw@127.0.0.1:9/none?connect_timeout=2"',
    )
    result = dep.cli("run", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "s3cret-pw" not in output
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if line.strip()]
    assert "level=error" in line and 'msg="dispatcher cannot start"' in line
    assert "OperationalError" in line
