"""Checkpoints of a SQLite store's write-ahead log, on a thread of their own.

Left to SQLite, the commit that grows the log past 1,000 pages copies it into the database
file and waits for the disk twice, on the thread that committed: with a million reminders a
claim dirties more pages than that, so every claim paid a checkpoint (tens of milliseconds of
waiting, most of a claim's time). Here the store's connections do not checkpoint; this thread
does, passively (it never blocks a reader or the writer), every ``INTERVAL`` seconds.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

INTERVAL = 0.25  # seconds between checkpoints: the log holds about that much writing


class Checkpointer:
    """Checkpoints the database at ``path`` until ``stop``; the last one at stop."""

    def __init__(self, path: str, busy_timeout: float) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stopping.wait(INTERVAL):
                conn = self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            if conn is not None:
                conn.close()

    def _checkpoint(self, conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
        """One passive checkpoint; the connection to use next time. A failed checkpoint
        loses nothing (the log keeps every page): the next one tries again."""
        with contextlib.suppress(sqlite3.Error):
            if conn is None:
                # mode=rw: never create the file (the store does, with its own mode).
                uri = Path(self._path).absolute().as_uri() + "?mode=rw"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=self._busy_timeout, isolation_level=None
                )
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return conn
