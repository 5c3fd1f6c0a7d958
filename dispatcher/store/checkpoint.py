"""Checkpoints of a SQLite store's write-ahead log, on a thread of their own.

Left to SQLite, the commit that grows the log past 1,000 pages copies it into the database
file and waits for the disk twice, on the thread that committed: with a million reminders a
claim dirties more pages than that, so every claim paid a checkpoint (tens of milliseconds of
waiting, most of a claim's time). Here the store's connections do not checkpoint; this thread
does, passively (it never blocks a reader or the writer), every ``INTERVAL`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

INTERVAL = 0.25  # seconds between checkpoints: the log holds about that much writing
# A log unchanged since a checkpoint that copied all of it back needs none: the thread only
# looks at the log file's size and time then (an idle daemon checkpointed 4 times a second
# for nothing), and checkpoints anyway this often, in case the file system's times are coarse.
UNCHANGED_EVERY = 5.0


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
        done: tuple[int, int, int] | None = None  # the log as a complete checkpoint left it
        skipped = 0.0
        try:
            while not self._stopping.wait(INTERVAL):
                log = self._log_file()
                if log is not None and log == done and skipped < UNCHANGED_EVERY:
                    skipped += INTERVAL
                    continue
                skipped = 0.0
                conn, complete = self._checkpoint(conn)
                done = log if complete else None
            self._checkpoint(conn)
        finally:
            if conn is not None:
                conn.close()

    def _log_file(self) -> tuple[int, int, int] | None:
        """The log file's identity, size and time (None when it cannot be read): a commit
        changes them. Read before the checkpoint, so a commit during it is seen next time."""
        try:
            found = os.stat(self._path + "-wal")
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    def _checkpoint(
        self, conn: sqlite3.Connection | None
    ) -> tuple[sqlite3.Connection | None, bool]:
        """One passive checkpoint; the connection to use next time, and whether it copied
        the whole log back. A failed checkpoint loses nothing (the log keeps every page): the
        next one tries again."""
        with contextlib.suppress(sqlite3.Error):
            if conn is None:
                # mode=rw: never create the file (the store does, with its own mode).
                uri = Path(self._path).absolute().as_uri() + "?mode=rw"
                conn = sqlite3.connect(
                    uri, uri=True, timeout=self._busy_timeout, isolation_level=None
                )
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return conn, not busy and frames == copied
        return conn, False
