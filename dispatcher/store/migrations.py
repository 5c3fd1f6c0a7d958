"""Bringing a store's schema up to this program's version: missing tables created, then one
upgrade step per version, in the migrate transaction."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import Connection, bindparam, insert, inspect, select, update

from dispatcher.model import Outcome
from dispatcher.store import schema as t
from dispatcher.store import tallies
from dispatcher.store.dialect import Dialect


def _add_column(conn: Connection, table: Any, name: str) -> None:
    column = table.c[name]
    kind = column.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")


def _v1_to_v2(conn: Connection) -> None:
    _add_column(conn, t.reminders, "claimed_by")
    _add_column(conn, t.reminders, "claimed_at")


def _v2_to_v3(conn: Connection) -> None:
    _add_column(conn, t.decisions, "policy_version")


def _v3_to_v4(conn: Connection) -> None:
    # migrate() has already created missing tables; this keeps the step explicit and safe
    # when run on its own.
    t.idempotency_keys.create(conn, checkfirst=True)
    # Before version 4 a claim was not confirmed before sending: an attempt an older daemon
    # left reserved may have been sent, so recovery must treat it as confirmed (unknown).
    conn.execute(
        update(t.attempts)
        .where(t.attempts.c.outcome == Outcome.RESERVED.value)
        .values(outcome=Outcome.SENDING.value)
    )


def _v4_to_v5(conn: Connection) -> None:
    # Status reads counts kept by triggers instead of scanning every reminder and attempt:
    # install them and count what the store already holds, in the migrate transaction.
    t.reminder_tallies.create(conn, checkfirst=True)
    t.attempt_tallies.create(conn, checkfirst=True)
    tallies.install(conn)


def _v5_to_v6(conn: Connection) -> None:
    # When each case next needs planning. The column's default (plan at once) is a constant,
    # so adding it rewrites no row on either database; every existing case is then planned
    # once by the first planning pass (a page at a time), which sets its real value.
    if "next_plan_at" not in {c["name"] for c in inspect(conn).get_columns("cases")}:
        kind = t.cases.c.next_plan_at.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(
            f"ALTER TABLE cases ADD COLUMN next_plan_at {kind} DEFAULT '{t.PLAN_AT_ONCE_TEXT}'"
        )
    next(i for i in t.cases.indexes if i.name == "ix_cases_next_plan").create(conn, checkfirst=True)


def _v6_to_v7(conn: Connection) -> None:
    # Calls' scripts kept with their attempts, so any node answers detection's verdict.
    # migrate() has already created missing tables; this keeps the step safe on its own.
    t.call_scripts.create(conn, checkfirst=True)


def _v7_to_v8(conn: Connection) -> None:
    # Provider events seen, and the order of consent changes (store/inbound.py): two new
    # tables, nothing existing rewritten. migrate() has created them already; this keeps the
    # step whole when run on its own.
    t.inbound_events.create(conn, checkfirst=True)
    t.consent_order.create(conn, checkfirst=True)


def _v8_to_v9(conn: Connection) -> None:
    # Reminders were keyed by the step's position ("3", a repeat "4+2"): inserting a step
    # gave an old key a new step. Steps now have ids, by default "channel/template"; each
    # planned reminder is re-keyed to its step's default id from its own row (the channel
    # and template it was planned with), so nothing is planned or sent again. Two steps of a
    # schedule with the same channel and template keep their old key (their config needs
    # explicit ids; `dispatcher check` lists such reminders).
    r = t.reminders.c
    if conn.dialect.name == "postgresql":  # SQLite does not enforce a VARCHAR's length
        conn.exec_driver_sql("ALTER TABLE reminders ALTER COLUMN step TYPE VARCHAR(240)")
    # A page of cases at a time, read whole, then re-keyed: a store of a million cases holds
    # millions of reminders, which must not all be in memory at once (and a cursor must not
    # walk the index its own updates change).
    last = ""
    while True:
        cases = (
            conn.execute(
                select(t.cases.c.id).where(t.cases.c.id > last).order_by(t.cases.c.id).limit(2000)
            )
            .scalars()
            .all()
        )
        if not cases:
            break
        last = cases[-1]
        groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        rows = conn.execute(
            select(r.id, r.case_id, r.schedule, r.step, r.channel, r.template).where(
                r.case_id.in_(cases)
            )
        )
        for rid, case_id, schedule, step, channel, template in rows:
            match = _POSITIONAL.match(step)
            new = step if match is None else f"{channel}/{template}{match.group(1) or ''}"
            groups.setdefault((case_id, schedule), []).append((rid, step, new))
        _rekey(conn, [change for group in groups.values() for change in _step_keys(group)])


def _v9_to_v10(conn: Connection) -> None:
    # The console's overview reads the last day's attempts and decisions by instant: an
    # index on each one's ``at``, so the read costs the day's rows, not the whole history.
    for table, name in ((t.attempts, "ix_attempts_at"), (t.decisions, "ix_decisions_at")):
        next(i for i in table.indexes if i.name == name).create(conn, checkfirst=True)


def _v10_to_v11(conn: Connection) -> None:
    # Consent per contact point and channel (store/consents.py): a new table, nothing
    # existing rewritten. migrate() has created it already; this keeps the step whole.
    t.consents.create(conn, checkfirst=True)


_POSITIONAL = re.compile(r"^\d+(\+\d+)?\Z")


def _step_keys(group: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """The new keys of one case's reminders of one schedule: a key two of them would share
    (or one already in use) is left as it was."""
    claimed = Counter(new for _rid, _step, new in group)
    return [
        {"rid": rid, "key": new} for rid, step, new in group if new != step and claimed[new] == 1
    ]


def _rekey(conn: Connection, changes: list[dict[str, Any]]) -> None:
    if changes:
        r = t.reminders.c
        conn.execute(
            update(t.reminders).where(r.id == bindparam("rid")).values(step=bindparam("key")),
            changes,
        )


def _v11_to_v12(conn: Connection) -> None:
    # Arrangements, their instalments and payments: new tables only, which create_all has
    # just made; nothing stored before changes.
    del conn


def _v12_to_v13(conn: Connection) -> None:
    # Version 13 changes nothing stored that this version reads.
    del conn


def _v13_to_v14(conn: Connection) -> None:
    # Breathing Space moratoria (SI 2020/1311) on cases: three nullable columns, no row
    # rewritten (NULL: no moratorium).
    present = {c["name"] for c in inspect(conn).get_columns("cases")}
    for name in ("breathing_space", "breathing_space_start", "breathing_space_until"):
        if name not in present:
            _add_column(conn, t.cases, name)


def _v14_to_v15(conn: Connection) -> None:
    # A person's wishes (store/wishes.py): a new table, which create_all has just made;
    # nothing stored before changes, and a person without a row has no wishes.
    del conn


def _v15_to_v16(conn: Connection) -> None:
    # A phone number's line (209 CMR 18.16 counts calls to a residence or mobile number apart
    # from the others): one nullable column, no row rewritten (NULL: the line is not known).
    if "line" not in {c["name"] for c in inspect(conn).get_columns("contact_points")}:
        _add_column(conn, t.contact_points, "line")


def _v16_to_v17(conn: Connection) -> None:
    # The claims' index gains the reminder's id after its due instant (see schema.py): built
    # again, once, in the migrate transaction.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_reminders_due")
    next(i for i in t.reminders.indexes if i.name == "ix_reminders_due").create(conn)


# UPGRADES[n] takes a store from schema version n to n+1, inside the migrate transaction.
UPGRADES = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
    8: _v8_to_v9,
    9: _v9_to_v10,
    10: _v10_to_v11,
    11: _v11_to_v12,
    12: _v12_to_v13,
    13: _v13_to_v14,
    14: _v14_to_v15,
    15: _v15_to_v16,
    16: _v16_to_v17,
}


def migrate(conn: Connection, dialect: Dialect) -> int:
    """Create or upgrade the schema; return the schema version now in place."""
    dialect.migration_lock(conn)
    t.metadata.create_all(conn)
    version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar()
    if version is None:
        conn.execute(insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION)))
        tallies.install(conn)  # a new store's counts are kept from its first row
        return t.SCHEMA_VERSION
    if int(version) > t.SCHEMA_VERSION:
        raise RuntimeError(
            f"the store has schema version {version}, newer than this program's "
            f"{t.SCHEMA_VERSION}; upgrade the program"
        )
    current = int(version)
    for step in range(current, t.SCHEMA_VERSION):
        UPGRADES[step](conn)
    if current != t.SCHEMA_VERSION:
        conn.execute(
            update(t.meta)
            .where(t.meta.c.key == "schema_version")
            .values(value=str(t.SCHEMA_VERSION))
        )
    return t.SCHEMA_VERSION
