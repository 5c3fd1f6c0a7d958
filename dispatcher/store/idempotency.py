"""Idempotency keys of the HTTP API: the first request made with a key, and its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from dispatcher.store import schema as t
from dispatcher.store.api import IdempotencyRecord
from dispatcher.store.dialect import Dialect


def idempotency_record(row: Any) -> IdempotencyRecord:
    return IdempotencyRecord(
        token=row.token,
        key=row.key,
        request=row.request,
        body_sha256=row.body_sha256,
        status=row.status,
        response=row.response,
        created_at=row.created_at,
    )


def begin(
    conn: Connection,
    dialect: Dialect,
    token: str,
    key: str,
    request: str,
    body_sha256: str,
    now: datetime,
    expired_before: datetime,
) -> IdempotencyRecord | None:
    k = t.idempotency_keys.c
    this = (k.token == token) & (k.key == key)
    fresh = {
        "request": request,
        "body_sha256": body_sha256,
        "status": None,
        "response": None,
        "created_at": now,
    }
    # Insert-or-ignore, then read: two nodes racing for one key see one winner.
    inserted = conn.execute(
        dialect.insert_ignore(t.idempotency_keys)
        .values(token=token, key=key, **fresh)
        .returning(k.key)
    ).first()
    if inserted is not None:
        return None
    renewed = conn.execute(
        update(t.idempotency_keys).where(this, k.created_at < expired_before).values(**fresh)
    )
    if renewed.rowcount == 1:
        return None
    row = conn.execute(select(t.idempotency_keys).where(this)).one()
    return idempotency_record(row)


def finish(conn: Connection, token: str, key: str, status: int, response: str) -> None:
    k = t.idempotency_keys.c
    conn.execute(
        update(t.idempotency_keys)
        .where(k.token == token, k.key == key)
        .values(status=status, response=response)
    )


def abandon(conn: Connection, token: str, key: str) -> None:
    k = t.idempotency_keys.c
    conn.execute(
        delete(t.idempotency_keys).where(k.token == token, k.key == key, k.status.is_(None))
    )
