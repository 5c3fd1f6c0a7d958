"""Provider events in the store: an id is applied once while it is kept, consent changes in
the provider's order (an older one never undoes a newer one), and a version 6 store gains the
tables by migration."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dispatcher.model import ContactKind
from dispatcher.store import open_store
from dispatcher.store.api import PersonIn
from dispatcher.store.inbound import REPORT_KEPT, InboundEvent
from dispatcher.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PHONE = "+8613800000001"


def _seed(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    store.upsert([PersonIn(id="P1", name="A", locale="en", phones=(PHONE,))], [], NOW)


def _opted_out(store) -> bool:  # type: ignore[no-untyped-def]
    return bool(store.get_person("P1").opt_outs)


def _consent(store, stop: bool, event: InboundEvent, now: datetime = NOW) -> list[str]:  # type: ignore[no-untyped-def]
    return store.opt_out_contact(
        ContactKind.PHONE, PHONE, "sms", now=now, source="test", clear=not stop, event=event
    )


def test_a_consent_change_older_than_the_last_applied_changes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    _seed(store)
    assert _consent(store, True, InboundEvent("consent:sms", "m2", NOW)) == ["P1"]
    # Sent before the STOP, delivered after it: the provider's timestamp says it is older.
    older = InboundEvent("consent:sms", "m1", NOW - timedelta(minutes=1))
    assert _consent(store, False, older, NOW + timedelta(minutes=1)) == []
    assert _opted_out(store)
    newer = InboundEvent("consent:sms", "m3", NOW + timedelta(minutes=2))
    assert _consent(store, False, newer, NOW + timedelta(minutes=3)) == ["P1"]
    assert not _opted_out(store)


def test_an_event_id_is_applied_once_while_kept_then_forgotten(store) -> None:  # type: ignore[no-untyped-def]
    _seed(store)
    report = InboundEvent("report", "SM1:undelivered:21610", kept=REPORT_KEPT)
    assert _consent(store, True, report) == ["P1"]
    assert _consent(store, False, InboundEvent("consent:sms", "m9")) == ["P1"]
    assert _consent(store, True, report, NOW + timedelta(minutes=1)) == []
    assert not _opted_out(store)
    # Past its keeping time the id is gone: the store stays bounded.
    later = NOW + REPORT_KEPT + timedelta(days=1)
    assert _consent(store, True, report, later) == ["P1"]


def test_a_version_6_store_gains_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE inbound_events")
    conn.execute("DROP TABLE consent_order")
    conn.execute("UPDATE meta SET value='6' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    store = open_store(f"sqlite:///{path}")
    assert store.migrate() == SCHEMA_VERSION
    _seed(store)
    assert _consent(store, True, InboundEvent("consent:sms", "m1")) == ["P1"]
    assert _consent(store, True, InboundEvent("consent:sms", "m1")) == []
    store.close()
