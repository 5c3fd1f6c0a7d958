"""docs/plugins.md stays true: its hook reference is the one in hookspecs.py, and its tutorial,
followed to the letter, yields a channel that is found, passes the contract suite and is
accepted by ``dispatcher check``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dispatcher.hookdoc import updated
from tests.conftest import DISPATCHER, REPO, Deployment

GUIDE = REPO / "docs" / "plugins.md"
# A fenced block whose first line names the file it is, e.g. "# dispatcher-smsgate/…".
FILE_BLOCK = re.compile(r"```(?:python|toml)\n# (\S+)\n(.*?)```", re.DOTALL)


def test_hook_reference_is_generated_from_hookspecs() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert updated(text) == text, (
        "docs/plugins.md's hook reference differs from dispatcher/hookspecs.py: run "
        "`python -m dispatcher.hookdoc docs/plugins.md`"
    )


def tutorial_files() -> dict[str, str]:
    return {name: body for name, body in FILE_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))}


@pytest.fixture
def smsgate(tmp_path: Path) -> dict[str, str]:
    """The tutorial's package written out, and installed the way pip would make it visible:
    on the path, with a .dist-info declaring its entry points. Returns the environment."""
    files = tutorial_files()
    for name, body in files.items():
        if name.startswith("dispatcher-smsgate/"):
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
    root = tmp_path / "dispatcher-smsgate"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    dist = root / f"dispatcher_smsgate-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    entry_points = "".join(
        f"{name} = {value}\n" for name, value in project["entry-points"]["dispatcher"].items()
    )
    (dist / "entry_points.txt").write_text(f"[dispatcher]\n{entry_points}")
    return {**os.environ, "PYTHONPATH": str(root), "DISPATCHER_PLUGINS": "outbox,letter,smsgate"}


def test_the_tutorial_yields_a_working_channel(
    smsgate: dict[str, str], deployment: Deployment
) -> None:
    root = Path(smsgate["PYTHONPATH"])
    contract = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=smsgate,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert contract.returncode == 0, contract.stdout + contract.stderr
    assert re.search(r"^12 passed, 1 skipped", contract.stdout, re.MULTILINE), contract.stdout

    listed = subprocess.run(
        [str(DISPATCHER), "plugins"], env=smsgate, capture_output=True, text=True, timeout=60
    )
    assert "\nsmsgate\n  channel types  smsgate\n" in listed.stdout, listed.stdout

    # The tutorial's [channels.sms] in place of the example deployment's.
    config = deployment.config / "dispatcher.toml"
    sms = tutorial_files()["dispatcher.toml"]
    text = re.sub(r"\[channels\.sms\]\n(?:[^\[\n].*\n)*", sms + "\n", config.read_text())
    config.write_text(text)
    checked = subprocess.run(
        [str(DISPATCHER), "--config", str(deployment.config), "check"],
        env={**smsgate, "SMSGATE_API_KEY": "tutorial-key-1234"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert 'plugin = "smsgate"' in config.read_text()
