"""Consent per contact point and channel in the store: given with its source, ended by a
revocation (which changes the person's revision), never given again by a re-import once
revoked, and a version 9 store gains the table by migration."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dispatcher.model import Consent
from dispatcher.store import open_store, schema
from dispatcher.store.api import PersonIn
from dispatcher.store.schema import SCHEMA_VERSION

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EMAIL = "p1@example.com"
PERSON = PersonIn(id="P1", name="A", locale="en", emails=(EMAIL,))


def _consents(store) -> tuple[Consent, ...]:  # type: ignore[no-untyped-def]
    return store.get_person("P1").consents  # type: ignore[no-any-return]


def test_consent_is_given_and_revoked_with_its_source(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    store.upsert([PERSON], [], NOW)
    before = store.get_person("P1").revision
    later = NOW + timedelta(minutes=5)
    store.consent("P1", "email", EMAIL, now=later, source="cli", detail="signed form 42")
    store.consent("P1", "email", EMAIL, now=later, source="cli")  # again: nothing new
    assert _consents(store) == (Consent("email", EMAIL),)
    assert before < store.get_person("P1").revision == later
    store.consent("P1", "email", EMAIL, now=NOW + timedelta(hours=1), source="api:t", revoke=True)
    assert _consents(store) == ()
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.consents)).all()
    assert [(r.source, r.detail, r.revoked_by) for r in rows] == [
        ("cli", "signed form 42", "api:t")
    ]


def test_revoking_one_contact_point_ends_a_consent_for_all(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    store.upsert([PERSON], [], NOW)
    store.consent("P1", "sms", None, now=NOW, source="cli")
    store.consent("P1", "email", None, now=NOW, source="cli")
    store.consent("P1", "sms", "+15550000001", now=NOW, source="cli", revoke=True)
    assert _consents(store) == (Consent("email", None),)


def test_an_import_gives_consent_once_and_never_again_after_a_revocation(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    imported = PersonIn(
        id="P1", name="A", locale="en", emails=(EMAIL,), consents=(("email", EMAIL),)
    )
    store.upsert([imported], [], NOW)
    assert _consents(store) == (Consent("email", EMAIL),)
    store.consent("P1", "email", EMAIL, now=NOW, source="cli", revoke=True)
    store.upsert([imported], [], NOW + timedelta(days=1))  # the same file again
    assert _consents(store) == ()


def test_consent_for_an_unknown_person_is_refused(store) -> None:  # type: ignore[no-untyped-def]
    store.migrate()
    with pytest.raises(LookupError, match="no person 'P9'"):
        store.consent("P9", "email", None, now=NOW, source="cli")


def test_a_version_9_store_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE consents")
    conn.execute("UPDATE meta SET value='9' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    store = open_store(f"sqlite:///{path}")
    assert store.migrate() == SCHEMA_VERSION
    store.upsert([PERSON], [], NOW)
    store.consent("P1", "email", EMAIL, now=NOW, source="cli")
    assert _consents(store) == (Consent("email", EMAIL),)
    store.close()
