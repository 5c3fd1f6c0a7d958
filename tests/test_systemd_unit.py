"""The shipped unit file: systemd accepts it, and its exposure stays low."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "dispatcher.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _installed_copy(tmp_path: Path) -> Path:
    # verify checks that ExecStart's program exists: point it at this environment's.
    text = UNIT.read_text().replace(
        "/opt/dispatcher/.venv/bin/dispatcher", str(Path(sys.executable).parent / "dispatcher")
    )
    path = tmp_path / "dispatcher.service"
    path.write_text(text)
    return path


def test_unit_declares_what_ops_rely_on() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "ExecStartPre=/opt/dispatcher/.venv/bin/dispatcher --config /etc/dispatcher check",
        "ExecReload=/opt/dispatcher/.venv/bin/dispatcher --config /etc/dispatcher check",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "StateDirectory=dispatcher",
        "ConfigurationDirectory=dispatcher",
        "DynamicUser=yes",
        "LimitNOFILE=65536",
    ):
        assert line in text.splitlines(), line
    assert re.search(r"^WatchdogSec=\d+s$", text, re.M)
    credentials = re.findall(r"^LoadCredential=([\w-]+):", text, re.M)
    assert set(credentials) == {"twilio-auth-token", "smtp-password", "api-tokens"}


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    result = subprocess.run(
        [ANALYZE, "verify", str(_installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # The test machine may not boot with systemd; messages about the host are not ours.
        if "dispatcher.service" in line
    ]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


@needs_analyze
def test_exposure_is_at_most_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(_installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout
