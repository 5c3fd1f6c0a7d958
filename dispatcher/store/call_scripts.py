"""Calls' scripts: what a placed call will say once detection has decided who answered, kept
with its attempt until the verdict takes it (once, whichever node that reaches), the call
ends, or it expires. A script holds personal data: nothing keeps one past its expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert

from dispatcher.store import schema as t
from dispatcher.store.scripts_api import CallScript


def keep(conn: Connection, attempt_id: str, script: CallScript, now: datetime) -> None:
    """Keep ``script`` for ``attempt_id`` (replacing one kept before), and remove every
    script expired by ``now``: each call placed cleans up after the calls before it."""
    s = t.call_scripts.c
    conn.execute(delete(t.call_scripts).where(s.expires_at < now))
    conn.execute(delete(t.call_scripts).where(s.attempt_id == attempt_id))
    conn.execute(
        insert(t.call_scripts).values(
            attempt_id=attempt_id,
            person=script.person,
            machine=script.machine,
            expires_at=script.expires_at,
        )
    )


def take(conn: Connection, attempt_id: str, now: datetime) -> CallScript | None:
    """The script of ``attempt_id``, removed in the same statement, so only one verdict (on
    one node) ever gets it; None when there is none (taken, forgotten) or it expired."""
    s = t.call_scripts.c
    row = conn.execute(
        delete(t.call_scripts)
        .where(s.attempt_id == attempt_id)
        .returning(s.person, s.machine, s.expires_at)
    ).first()
    if row is None or row.expires_at < now:
        return None
    return CallScript(person=row.person, machine=row.machine, expires_at=row.expires_at)


def forget(conn: Connection, attempt_id: str) -> bool:
    """Remove the script of ``attempt_id`` (the call ended, or was never placed); returns
    whether there was one."""
    s = t.call_scripts.c
    return bool(conn.execute(delete(t.call_scripts).where(s.attempt_id == attempt_id)).rowcount)
