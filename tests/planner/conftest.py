"""The ``store`` fixture (a real SQLite file, and PostgreSQL when one answers) for the
planner's store tests; a module may define its own."""

from tests.store.test_store import store  # noqa: F401
