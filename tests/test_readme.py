"""README's layout section matches the tree: every package and module directly under
dispatcher/ and plugins/ is named there, and nothing it names is missing."""

from __future__ import annotations

import re

from tests.conftest import REPO


def layout_entries(top: str) -> set[str]:
    """The names the layout block lists under ``top`` (``dispatcher/`` or ``plugins/``): the
    words before each line's description, e.g. ``store/`` or ``model.py privacy.py``."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout\n", 1)[1].split("```\n", 2)[1]
    entries: set[str] = set()
    inside = False
    for line in block.splitlines():
        if not line.startswith(" "):
            inside = line.startswith(top)
            continue
        if inside and not line.startswith("    "):
            names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            entries.update(name for name in re.split(r"[ ,]+", names) if name)
    return entries


def tree_entries(folder: str) -> set[str]:
    root = REPO / folder
    packages = {f"{p.name}/" for p in root.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.name for p in root.glob("*.py") if p.name != "__init__.py"}
    return packages | modules


def test_the_layout_names_every_part_of_the_core() -> None:
    assert layout_entries("dispatcher/") == tree_entries("dispatcher")


def test_the_layout_names_every_built_in_channel() -> None:
    # sms/ and voice/ share a line; twilio_common/ is named in their description.
    listed = layout_entries("plugins/") | {"twilio_common/"}
    assert listed == tree_entries("plugins")
