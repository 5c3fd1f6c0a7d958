"""docs/api.md stays true: every curl example names a documented operation, and pasted into a
shell against a daemon started as ``make run`` starts it (sample data, the token from
``$DISPATCHER_API_TOKEN``) each answers the status the page shows after it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dispatcher.api.openapi import document
from tests.api.conftest import running_daemon
from tests.conftest import REPO, Deployment

PAGE = REPO / "docs" / "api.md"
TOKEN = "doc-example-token"
# A command (with its continuation lines) and the status shown after it: "# → 201".
EXAMPLE = re.compile(r"^(curl .*?)\n# → (\d{3})$", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, int]]:
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    return [(cmd, int(code)) for block in blocks for cmd, code in EXAMPLE.findall(block)]


def operation_of(command: str) -> tuple[str, str]:
    method = re.search(r"-X (\w+)", command)
    url = re.search(r'"?127\.0\.0\.1:8080(/[^\s"?]*)', command)
    assert url, command
    return (method.group(1) if method else "GET"), url.group(1)


def test_every_example_names_a_documented_operation() -> None:
    found = examples()
    assert len(found) >= 9
    templates = [
        (method.upper(), re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$"))
        for path, item in document()["paths"].items()
        for method in item
    ]
    for command, _ in found:
        method, path = operation_of(command)
        assert any(m == method and t.match(path) for m, t in templates), command


def _sample_data(dep: Deployment) -> None:
    sample = subprocess.run(
        [sys.executable, str(REPO / "config" / "sample_data.py")], capture_output=True, text=True
    )
    csv = dep.root / "sample.csv"
    csv.write_text(sample.stdout)
    assert dep.cli("import", str(csv)).returncode == 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_examples_work_as_pasted(tmp_path: Path) -> None:
    env = {"DISPATCHER_API_TOKEN": TOKEN}
    with running_daemon(tmp_path, _sample_data, env) as url:
        for command, expected in examples():
            pasted = command.replace("127.0.0.1:8080", url.removeprefix("http://"))
            # As the page says: the token exported in the shell; the status line appended.
            run = subprocess.run(
                ["bash", "-c", pasted.replace("curl -s", "curl -s -w '\\n%{http_code}'", 1)],
                env={"PATH": "/usr/bin:/bin", **env},
                capture_output=True,
                text=True,
                timeout=30,
            )
            status = int(run.stdout.rsplit("\n", 1)[-1])
            assert status == expected, f"{command}\n→ {run.stdout}"
