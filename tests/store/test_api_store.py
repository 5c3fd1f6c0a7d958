"""The store methods the HTTP API needs, on SQLite and PostgreSQL: listing reminders page by
page, and idempotency records (reserve, answer, replay, expiry); and the upgrade of a
version-3 store that has no idempotency table yet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import inspect

from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from dispatcher.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _reminders(store, channels: list[str]) -> None:  # type: ignore[no-untyped-def]
    store.upsert(
        [PersonIn(id="P0", name="Name", locale="en", phones=("+447911123400",))],
        [
            CaseIn(
                id="C0",
                person_id="P0",
                amount="10.00",
                currency="GBP",
                due_date=date(2026, 11, 1),
                schedule="standard",
            )
        ],
        NOW,
    )
    store.add_reminders(
        [
            NewReminder(
                case_id="C0",
                person_id="P0",
                schedule="standard",
                step=str(i),
                channel=channel,
                template="t",
                due_at=NOW + timedelta(hours=i),
            )
            for i, channel in enumerate(channels)
        ],
        [],
        NOW,
    )


def test_reminders_are_listed_page_by_page_with_filters(store) -> None:  # type: ignore[no-untyped-def]
    _reminders(store, ["sms", "email", "sms", "sms", "email"])
    first = store.list_reminders(None, "sms", 0, 2)
    assert [item.reminder.channel for item in first] == ["sms", "sms"]
    rest = store.list_reminders(None, "sms", first[-1].reminder.id, 2)
    assert [item.reminder.channel for item in rest] == ["sms"]
    assert store.list_reminders(None, "sms", rest[-1].reminder.id, 2) == []
    ids = [item.reminder.id for item in first + rest]
    assert ids == sorted(ids), "keyset order is id order"
    assert len(store.list_reminders("pending", None, 0, 100)) == 5
    assert store.list_reminders("sent", None, 0, 100) == []


def test_an_idempotency_key_is_reserved_answered_and_replayed(store) -> None:  # type: ignore[no-untyped-def]
    old = NOW - timedelta(days=1)
    assert store.idempotency_begin("loans", "k1", "POST /v1/x", "h1", NOW, old) is None
    running = store.idempotency_begin("loans", "k1", "POST /v1/x", "h1", NOW, old)
    assert running is not None and running.status is None, "the first request still runs"
    store.idempotency_finish("loans", "k1", 200, '{"ok": true}')
    done = store.idempotency_begin("loans", "k1", "POST /v1/x", "h2", NOW, old)
    assert done is not None
    assert (done.status, done.response, done.body_sha256) == (200, '{"ok": true}', "h1")
    assert store.idempotency_begin("other", "k1", "POST /v1/x", "h1", NOW, old) is None, (
        "keys are per token"
    )


def test_an_abandoned_or_expired_key_can_be_used_again(store) -> None:  # type: ignore[no-untyped-def]
    old = NOW - timedelta(days=1)
    assert store.idempotency_begin("loans", "k1", "POST /v1/x", "h1", NOW, old) is None
    store.idempotency_abandon("loans", "k1")
    assert store.idempotency_begin("loans", "k1", "POST /v1/x", "h2", NOW, old) is None
    store.idempotency_finish("loans", "k1", 201, "{}")
    store.idempotency_abandon("loans", "k1")  # an answered key is kept
    assert store.idempotency_begin("loans", "k1", "POST /v1/x", "h2", NOW, old) is not None
    later = NOW + timedelta(days=2)
    expired = later - timedelta(days=1)
    assert store.idempotency_begin("loans", "k1", "POST /v1/y", "h3", later, expired) is None


def test_a_version_3_store_gains_the_idempotency_table(store) -> None:  # type: ignore[no-untyped-def]
    _reminders(store, ["sms"])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE idempotency_keys")
        conn.exec_driver_sql("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    store.engine.dispose()
    assert "idempotency_keys" not in inspect(store.engine).get_table_names()
    assert store.migrate() == SCHEMA_VERSION == 5
    assert store.idempotency_begin("t", "k", "POST /v1/x", "h", NOW, NOW) is None
    assert len(store.list_reminders(None, None, 0, 10)) == 1, "data kept"


@pytest.mark.parametrize("limit", [1, 3])
def test_a_page_never_exceeds_its_limit(store, limit: int) -> None:  # type: ignore[no-untyped-def]
    _reminders(store, ["sms"] * 4)
    assert len(store.list_reminders(None, None, 0, limit)) == limit
