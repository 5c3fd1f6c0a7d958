"""One store API (``api.Store``), implemented for SQLite and PostgreSQL."""

from __future__ import annotations

from dispatcher.store.api import Store


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store named by ``url`` (``sqlite:///path`` or ``postgresql://…``) and bring its
    schema up to date."""
    if url.startswith("sqlite"):
        from dispatcher.store.sqlite import SqliteStore

        store: Store = SqliteStore(url)
    elif url.startswith("postgresql"):
        try:
            from dispatcher.store.postgres import PostgresStore
        except ImportError as exc:  # psycopg is the optional [postgres] extra
            raise ValueError(
                "a PostgreSQL store needs the postgres extra "
                f"(pip install 'dispatcher[postgres]'): {exc}"
            ) from None
        store = PostgresStore(url)
    else:
        raise ValueError(
            f"store {url.split(':', 1)[0]!r} is not supported (use sqlite:///path or postgresql://…)"
        )
    if migrate:
        store.migrate()
    return store


def masked_url(url: str) -> str:
    """``url`` as logs and messages show it: any password in it replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("://", 1)[0] + "://…"


__all__ = ["Store", "masked_url", "open_store"]
