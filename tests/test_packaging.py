"""The package list in pyproject.toml names every package of the tree: the list is explicit
(plugins/ is installed as dispatcher_plugins), and an editable install would hide a folder
missing from it until someone installs the wheel."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO

ROOTS = {"dispatcher": REPO / "dispatcher", "dispatcher_plugins": REPO / "plugins"}


def test_every_package_of_the_tree_is_installed() -> None:
    settings = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(settings["tool"]["setuptools"]["packages"])
    found = {
        ".".join((name, *init.parent.relative_to(root).parts))
        for name, root in ROOTS.items()
        for init in root.rglob("__init__.py")
    }
    assert found == listed
