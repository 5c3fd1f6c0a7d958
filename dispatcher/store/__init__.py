"""One store API (``api.Store``), implemented for SQLite here and PostgreSQL later."""

from __future__ import annotations

from dispatcher.store.api import Store


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store named by ``url`` (``sqlite:///path``) and bring its schema up to date."""
    if url.startswith("sqlite"):
        from dispatcher.store.sqlite import SqliteStore

        store: Store = SqliteStore(url)
    else:
        raise ValueError(
            f"store {url.split(':', 1)[0]!r} is not supported yet (use sqlite:///path)"
        )
    if migrate:
        store.migrate()
    return store


__all__ = ["Store", "open_store"]
