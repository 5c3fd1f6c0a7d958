"""What the daemon does and says once, at start: the store opened and its schema brought up to
date (noting the upgrade it ran), and the start line an operator reads first — the program's
version, the store's schema and URL (its password masked), the plugins with their versions —
followed by where to look next."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.runtime import Runtime
from dispatcher.runtime.versions import PROGRAM_VERSION
from dispatcher.store import Store, masked_url, open_store
from dispatcher.store.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from dispatcher.daemon.web import HttpServer

log = logging.getLogger("dispatcher.daemon")


def open_and_upgrade(url: str) -> tuple[Store, int | None]:
    """The store, its schema upgraded; and the schema version it had before (None for a new
    store)."""
    store = open_store(url, migrate=False)
    try:
        before = store.schema_version()
    except Exception:  # a new store has no table to read it from; migrate says what is wrong
        before = None
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store, before


def schema_note(before: int | None) -> str:
    """What start did to the store's schema: ``9`` (nothing), ``created 9``, ``7->9``."""
    if before is None:
        return f"created {SCHEMA_VERSION}"
    if before != SCHEMA_VERSION:
        return f"{before}->{SCHEMA_VERSION}"
    return str(SCHEMA_VERSION)


def log_started(
    config_dir: Path, runtime: Runtime, schema_before: int | None, http: HttpServer | None
) -> None:
    """The start line, and (when the HTTP server runs) where to look next."""
    plugins = ",".join(f"{info.name} {info.version}" for info in runtime.plugins.info)
    log.info(
        "dispatcher started",
        extra={
            "fields": {
                "program": PROGRAM_VERSION,
                "schema": schema_note(schema_before),
                "store": masked_url(runtime.config.store_url),
                "config": str(config_dir),
                "version": runtime.version,
                "channels": ",".join(runtime.channels),
                "plugins": plugins,
                "pid": os.getpid(),
            }
        },
    )
    if http is not None:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(http.host, http.host)
        host = f"[{host}]" if ":" in host else host
        log.info(
            f"next: the console at http://{host}:{http.port}/ui/; the queue with "
            f"`dispatcher --config {config_dir} status`"
        )
