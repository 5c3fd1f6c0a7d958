"""The install docs/ops.md documents, run as written (in a temp root, under root's strictest
umask) and then served as the unit runs it: an unprivileged user of systemd's dynamic range,
UMask=0077, the unit's StateDirectory= as its working directory. ``check`` passes and the
daemon gets to ready — the service can read its own config."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DISPATCHER, REPO, free_port, http_get, stop, wait_for

OPS = REPO / "docs" / "ops.md"
UNIT = REPO / "systemd" / "dispatcher.service"
SERVICE_UID = 61184 + os.getpid() % 4000  # systemd's range for dynamic users: no account
SETPRIV = shutil.which("setpriv")
UNSHARE = shutil.which("unshare")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None,
    reason="becoming another user needs root and setpriv (util-linux)",
)


def _config_commands() -> list[str]:
    """docs/ops.md's install commands that make /etc/dispatcher, in order."""
    install = OPS.read_text().split("## Install", 1)[1].split("### Secrets", 1)[0]
    commands = [
        line.removeprefix("sudo ").split("  #")[0].strip()
        for line in install.splitlines()
        if line.startswith("sudo ") and "/etc/dispatcher" in line
    ]
    kept = [c for c in commands if c.split()[0] in ("install", "cp", "rm", "chmod", "chown")]
    assert kept and kept[0].startswith("install -d"), commands
    return kept


def _unit(key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", UNIT.read_text(), re.M)
    assert match, key
    return match.group(1).strip()


def _as_service(*argv: str) -> list[str]:
    """``argv`` run as the service's user, with no capability left (no way around a file's
    mode). An interpreter under a home only root may enter is shown in a private mount
    namespace where that home is passable, its files as they are."""
    drop = [SETPRIV, f"--reuid={SERVICE_UID}", f"--regid={SERVICE_UID}", "--clear-groups"]
    drop += ["--inh-caps=-all", "--bounding-set=-all"]
    private = _closed_ancestor(Path(sys.base_prefix))
    if private is None:
        return [*drop, *argv]
    if UNSHARE is None:
        pytest.skip(f"{private} is closed to other users and unshare is missing")
    parent, child = private
    script = (
        f"mkdir -p {shlex.quote(str(HOLD))} && mount --bind {parent / child} {HOLD} && "
        f"mount -t tmpfs -o mode=0755 tmpfs {parent} && mkdir {parent / child} && "
        f"mount --bind {HOLD} {parent / child} && exec {shlex.join([*drop, *argv])}"
    )
    return [UNSHARE, "--mount", "--propagation", "private", "sh", "-c", script]


HOLD = Path(tempfile.gettempdir()) / f"dispatcher-test-hold-{os.getpid()}"


def _closed_ancestor(path: Path) -> tuple[Path, str] | None:
    """The first directory above ``path`` others may not pass through, and its child on the
    way to ``path``."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
            child = path.relative_to(parent).parts[0]
            return parent, child
    return None


@pytest.fixture
def installed() -> Iterator[Path]:
    """A temp root with /etc/dispatcher as docs/ops.md makes it (by root, umask 0077) and
    /var/lib/dispatcher as the unit's StateDirectory= makes it."""
    root = Path(tempfile.mkdtemp(prefix="dispatcher-install-"))
    root.chmod(0o755)  # like /
    try:
        etc = root / "etc" / "dispatcher"
        etc.parent.mkdir(mode=0o755)
        for command in _config_commands():
            line = command.replace("/opt/dispatcher", str(REPO)).replace(
                "/etc/dispatcher", str(etc)
            )
            subprocess.run(["sh", "-c", f"umask 077 && {line}"], check=True)
        assert oct(etc.stat().st_mode & 0o777)[2:] == _unit("ConfigurationDirectoryMode")[1:]
        state = root / "var" / "lib" / "dispatcher"
        state.mkdir(parents=True)
        for path in (root / "var", root / "var" / "lib"):
            path.chmod(0o755)
        os.chown(state, SERVICE_UID, SERVICE_UID)
        state.chmod(int(_unit("StateDirectoryMode"), 8))
        toml = etc / "dispatcher.toml"
        text = toml.read_text()  # the edits docs/ops.md asks for, and a free port
        text = re.sub(
            r'^store = ".*"$',
            f'store = "sqlite:///{state}/dispatcher.db"',
            text,
            count=1,
            flags=re.M,
        )
        text = re.sub(r'^directory = "var/', f'directory = "{state}/', text, flags=re.M)
        text = re.sub(
            r'^listen = ".*"$', f'listen = "127.0.0.1:{free_port()}"', text, count=1, flags=re.M
        )
        toml.write_text(text)
        yield root
    finally:
        shutil.rmtree(root)
        shutil.rmtree(HOLD, ignore_errors=True)


def _environment() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DISPATCHER_API_TOKEN": "t" * 32,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_the_documented_install_checks_and_gets_ready_as_the_service_user(
    installed: Path,
) -> None:
    etc = installed / "etc" / "dispatcher"
    state = installed / "var" / "lib" / "dispatcher"
    check = subprocess.run(
        _as_service(str(DISPATCHER), "--config", str(etc), "check"),
        cwd=state,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o077),
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = int(
        re.search(
            r'^listen = "127.0.0.1:(\d+)"', (etc / "dispatcher.toml").read_text(), re.M
        ).group(1)
    )  # type: ignore[union-attr]
    process = subprocess.Popen(
        _as_service(str(DISPATCHER), "--config", str(etc), "run"),
        cwd=state,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: os.umask(0o077),
    )
    try:
        wait_for(lambda: process.poll() is not None or http_get(port, "/readyz")[0] == 200, 60)
        assert process.poll() is None, process.communicate()[0]
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    store = state / "dispatcher.db"
    assert store.stat().st_uid == SERVICE_UID, "the store is the service user's"
