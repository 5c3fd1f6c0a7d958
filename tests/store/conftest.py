"""The ``store`` fixture (a real SQLite file, and PostgreSQL when one answers) for every
store test module."""

from tests.store.test_store import store  # noqa: F401
