"""The import's test site: a copy of the example config over a real SQLite file."""

from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatcher.cli import main

EXAMPLE_CONFIG = Path(__file__).parents[2] / "config"


class ImportSite:
    """A copy of the example config whose store is a SQLite file in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.url = f"sqlite:///{root / 'db.sqlite'}"

    def import_(self, file: Path, *options: str) -> Result:
        # A fixed wide console: these tests check content, not how rich wraps it.
        return CliRunner().invoke(
            main,
            ["--config", str(self.config), "import", str(file), *options],
            env={"COLUMNS": "400"},
            catch_exceptions=False,
        )

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def case_ids(self) -> set[str]:
        """The ids of the cases stored (none before the first import made the store)."""
        store = self.root / "db.sqlite"
        if not store.exists():
            return set()
        with closing(sqlite3.connect(store)) as db:
            return {cid for (cid,) in db.execute("SELECT id FROM cases")}


@pytest.fixture
def site(tmp_path: Path) -> ImportSite:
    shutil.copytree(EXAMPLE_CONFIG, tmp_path / "config")
    made = ImportSite(tmp_path)
    settings = made.config / "dispatcher.toml"
    text, count = re.subn(
        r"^store = .*$", f'store = "{made.url}"', settings.read_text(), flags=re.MULTILINE
    )
    assert count == 1
    settings.write_text(text)
    return made
