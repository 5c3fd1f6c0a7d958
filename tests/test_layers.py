"""The tree's layers hold, checked by import-linter with the contracts in pyproject.toml: no
layer imports one above it, the policy is pure, the store takes no policy, plugins use only
the public modules. A forbidden import breaks a contract, shown here on a copy of the tree."""

from __future__ import annotations

import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import dispatcher
from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # import-linter's command
PLUGIN_CONTRACT = "Plugins import only the public modules"
POLICY_CONTRACT = "The policy is pure: no store, dispatch, channel, daemon or I/O"
LAYERS_CONTRACT = "No layer imports a layer above it"


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Wide enough that no contract's name is wrapped in the report.
    env = {**(env if env is not None else os.environ), "COLUMNS": "250"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contracts() -> list[dict[str, object]]:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, object]] = settings["tool"]["importlinter"]["contracts"]
    return found


def test_every_contract_is_kept() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in contracts():
        assert f"{contract['name']} KEPT" in result.stdout


def copy_of_the_tree(root: Path) -> dict[str, str]:
    """The packages the contracts name, under ``root``, importable from there first."""
    shutil.copytree(REPO / "dispatcher", root / "dispatcher")
    shutil.copytree(REPO / "plugins", root / "dispatcher_plugins")
    example = REPO / "examples" / "dispatcher-fieldvisit" / "dispatcher_fieldvisit"
    shutil.copytree(example, root / "dispatcher_fieldvisit")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("dispatcher/policy/windows.py", "from dispatcher.store import api", POLICY_CONTRACT),
        ("dispatcher/policy/limits.py", "import sqlite3", POLICY_CONTRACT),
        (
            "dispatcher/store/schema.py",
            "from dispatcher.policy import engine",
            "The store imports no policy (it is handed decide)",
        ),
        (
            "dispatcher_plugins/sms/__init__.py",
            "from dispatcher.store.api import Retry",
            PLUGIN_CONTRACT,
        ),
        ("dispatcher_fieldvisit/channel.py", "import dispatcher.config.load", PLUGIN_CONTRACT),
        ("dispatcher/config/durations.py", "import dispatcher.dispatch", LAYERS_CONTRACT),
        # The public face of channels sits below the store: it cannot hand plugins the store.
        ("dispatcher/channel.py", "import dispatcher.store.sql", LAYERS_CONTRACT),
        # A new module under dispatcher/ has no layer until it is given one.
        ("dispatcher/console.py", "import dispatcher.model", LAYERS_CONTRACT),
        (
            "dispatcher/daemon/web.py",
            "import dispatcher_plugins.twilio_common.webhooks",
            "Built-in channels are plugins: no other package imports one",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    env = copy_of_the_tree(tmp_path)
    target = tmp_path / module
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    # The report names the import that broke it, with the file it is in.
    assert module.removesuffix(".py").removesuffix("/__init__").replace("/", ".") in result.stdout


def public_modules() -> set[str]:
    """The modules docs/plugins.md tells plugin authors they may import."""
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = guide.split("## What a plugin may import", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `(dispatcher(?:\.[a-z_]+)?)`", section, flags=re.MULTILINE))


def test_every_core_module_is_public_or_closed_to_plugins() -> None:
    """A new module under dispatcher/ is either in the guide's public list or forbidden to
    plugins: the plugin contract cannot fall behind the tree."""
    (plugin_contract,) = [
        c for c in contracts() if c["name"] == "Plugins import only the public modules"
    ]
    forbidden = set(plugin_contract["forbidden_modules"])  # type: ignore[call-overload]
    public = public_modules()
    assert "dispatcher.channel" in public and "dispatcher.services" in public
    every = {f"dispatcher.{m.name}" for m in pkgutil.iter_modules(dispatcher.__path__)}
    assert not public & forbidden
    assert every == (public - {"dispatcher"}) | forbidden
