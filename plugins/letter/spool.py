"""The print house's spool: ``<attempt-id>.pdf`` and then ``<attempt-id>.json`` in one
directory, each written to a hidden temporary file and renamed into place, so a reader never
sees a partial file and never sees a manifest whose PDF is missing.

The manifest carries no address: the address is printed in the PDF's window, which is what
the print house puts in the envelope; the manifest is for matching and checking the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from dispatcher.privacy import open_private


class Spool:
    """One directory of finished letters."""

    def __init__(self, directory: Path, *, fsync: bool = True) -> None:
        self.directory = directory
        self.fsync = fsync

    def pdf_path(self, attempt_id: str) -> Path:
        return self.directory / f"{attempt_id}.pdf"

    def manifest_path(self, attempt_id: str) -> Path:
        return self.directory / f"{attempt_id}.json"

    def write(self, attempt_id: str, pdf: bytes, manifest: dict[str, Any]) -> None:
        """Place the PDF, then its manifest; on any failure neither is left behind."""
        if "/" in attempt_id or attempt_id.startswith("."):
            raise ValueError("an attempt id cannot name a file outside the spool")
        self.directory.mkdir(parents=True, exist_ok=True)
        pdf_path = self.pdf_path(attempt_id)
        self._place(pdf_path, pdf)
        try:
            body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
            self._place(self.manifest_path(attempt_id), body)
        except BaseException:
            pdf_path.unlink(missing_ok=True)
            raise
        if self.fsync:
            self._sync_directory()

    def _place(self, path: Path, content: bytes) -> None:
        # A leading dot keeps the unfinished file out of a print house's "*.pdf" / "*.json".
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open_private(temporary, "wb") as handle:  # 0600: a name and an address
                handle.write(content)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def _sync_directory(self) -> None:
        # The renames are durable only once the directory itself is on disk.
        handle = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
