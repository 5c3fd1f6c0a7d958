"""README's layout section matches the tree: every package and module directly under
dispatcher/ and plugins/ is named there, each package's description names every module in
it, and nothing it names is missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

CORE = REPO / "dispatcher"
PACKAGES = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file())


def layout_lines(top: str) -> dict[str, str]:
    """The layout block's entries under ``top`` (``dispatcher/`` or ``plugins/``): each
    entry's names (the words before its description, e.g. ``store/`` or ``model.py
    privacy.py``) → its description, continuation lines included."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout\n", 1)[1].split("```\n", 2)[1]
    entries: dict[str, str] = {}
    inside, names = False, ""
    for line in block.splitlines():
        if not line.startswith(" "):
            inside = line.startswith(top)
        elif inside and not line.startswith("    "):
            names, _, description = line.strip().partition("  ")
            entries[names] = description
        elif inside and names:
            entries[names] += " " + line.strip()
    return entries


def layout_entries(top: str) -> set[str]:
    return {name for names in layout_lines(top) for name in re.split(r"[ ,]+", names) if name}


def tree_entries(root: Path) -> set[str]:
    packages = {f"{p.name}/" for p in root.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.name for p in root.glob("*.py") if p.name != "__init__.py"}
    return packages | modules


def test_the_layout_names_every_part_of_the_core() -> None:
    assert layout_entries("dispatcher/") == tree_entries(CORE)


@pytest.mark.parametrize(
    "package", sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file())
)
def test_each_package_description_names_its_modules(package: str) -> None:
    described = set(re.findall(r"[a-z_]+", layout_lines("dispatcher/")[f"{package}/"]))
    modules = {
        path.stem if path.name != "__init__.py" else path.parent.name
        for path in (CORE / package).rglob("*.py")
        if path.parent != CORE / package or path.name != "__init__.py"
    }
    assert modules <= described, (
        f"{package}/ in README's layout does not name {modules - described}"
    )


def test_the_layout_names_every_built_in_channel() -> None:
    # sms/ and voice/ share a line; twilio_common/ is named in their description.
    listed = layout_entries("plugins/") | {"twilio_common/"}
    assert listed == tree_entries(REPO / "plugins")
