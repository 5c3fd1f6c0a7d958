"""Counts the database keeps itself, so ``status`` reads a few dozen rows instead of every
reminder and attempt: reminders by (state, channel, deferral reason) and the attempts status
reports (failed and unknown ones) by (channel, outcome, error code).

Triggers on ``reminders`` and ``attempts`` keep them, so every write path (claims, records,
callbacks, events, recovery, planning, a hand-made SQL fix) stays counted without the store's
functions knowing. The two databases keep them differently:

- SQLite has one writer at a time, so a row trigger adds to one row per key (an upsert).
- PostgreSQL is shared by several nodes: one row per key would make every claim, record and
  callback of every node wait on the same few rows' locks until it commits. So a statement
  trigger appends the statement's net change per key as a new row (appends never wait on each
  other), a read sums the rows per key, and ``fold`` now and then replaces the rows with
  their sums — under an advisory try-lock, so two nodes never fold at once and neither waits.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select, text

from dispatcher.model import Outcome, ReminderState
from dispatcher.store import schema as t

# The outcomes status reports on; others are not counted, so most attempt writes (reserved,
# sending, placed, delivered) cost the triggers nothing.
COUNTED_OUTCOMES = (
    Outcome.FAILED_PERMANENT.value,
    Outcome.FAILED_TRANSIENT.value,
    Outcome.UNKNOWN.value,
)
FAILED_OUTCOMES = (Outcome.FAILED_PERMANENT.value, Outcome.FAILED_TRANSIENT.value)
FOLD_LOCK = 0x74616C79  # "taly": pg_advisory lock key for folding


def _key(table: str, row: str) -> tuple[str, ...]:
    """The tally key of one ``row`` (``new``, ``old`` or a table alias) as SQL expressions."""
    p = f"{row}." if row else ""
    if table == "reminders":
        pending = ReminderState.PENDING.value
        reason = f"CASE WHEN {p}state = '{pending}' THEN coalesce({p}last_reason, '') ELSE '' END"
        return f"{p}state", f"{p}channel", reason
    return f"{p}channel", f"{p}outcome", f"coalesce({p}error_code, '')"


def _counted(table: str, row: str) -> str:
    """SQL: whether ``row`` of ``table`` is counted at all."""
    if table == "reminders":
        return "1 = 1"
    p = f"{row}." if row else ""
    return f"{p}outcome IN ({', '.join(repr(o) for o in COUNTED_OUTCOMES)})"


TALLIES = {"reminders": t.reminder_tallies, "attempts": t.attempt_tallies}
# The columns of each table a tally key is made of.
WATCHED = {"reminders": "state, channel, last_reason", "attempts": "channel, outcome, error_code"}


def _columns(table: str) -> str:
    return ", ".join(c.name for c in TALLIES[table].c if c.name != "n")


# -- SQLite: row triggers adding to one row per key ------------------------------------------


def _sqlite_add(table: str, row: str, sign: int) -> str:
    tally = TALLIES[table].name
    cols = _columns(table)
    return (
        f"INSERT INTO {tally} ({cols}, n) SELECT {', '.join(_key(table, row))}, {sign} "
        f"WHERE {_counted(table, row)} "
        f"ON CONFLICT ({cols}) DO UPDATE SET n = n + excluded.n;"
    )


def _sqlite_triggers(table: str) -> list[str]:
    old, new = _key(table, "old"), _key(table, "new")
    changed = " OR ".join(f"({o}) IS NOT ({n})" for o, n in zip(old, new, strict=True))
    counted = f"({_counted(table, 'old')} OR {_counted(table, 'new')})"
    watched = WATCHED[table]
    return [
        f"CREATE TRIGGER {table}_tally_insert AFTER INSERT ON {table} "
        f"WHEN {_counted(table, 'new')} BEGIN {_sqlite_add(table, 'new', 1)} END",
        f"CREATE TRIGGER {table}_tally_delete AFTER DELETE ON {table} "
        f"WHEN {_counted(table, 'old')} BEGIN {_sqlite_add(table, 'old', -1)} END",
        f"CREATE TRIGGER {table}_tally_update AFTER UPDATE OF {watched} ON {table} "
        f"WHEN {counted} AND ({changed}) "
        f"BEGIN {_sqlite_add(table, 'old', -1)} {_sqlite_add(table, 'new', 1)} END",
    ]


# -- PostgreSQL: statement triggers appending each statement's net change --------------------


def _pg_delta(table: str, sources: list[tuple[str, int]]) -> str:
    """SQL appending the net change per key of the transition tables ``sources``."""
    cols = _columns(table)
    named = zip(_key(table, "x"), cols.split(", "), strict=True)
    key = ", ".join(f"{expression} AS {column}" for expression, column in named)
    rows = " UNION ALL ".join(
        f"SELECT {key}, {sign} AS n FROM {source} x WHERE {_counted(table, 'x')}"
        for source, sign in sources
    )
    return (
        f"INSERT INTO {TALLIES[table].name} ({cols}, n) "
        f"SELECT {cols}, sum(n) FROM ({rows}) d GROUP BY {cols} HAVING sum(n) <> 0;"
    )


PG_EVENTS = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", [("new_rows", 1)]),
    "delete": ("REFERENCING OLD TABLE AS old_rows", [("old_rows", -1)]),
    "update": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        [("old_rows", -1), ("new_rows", 1)],
    ),
}


def _pg_triggers(table: str) -> list[str]:
    statements = []
    for event, (referencing, sources) in PG_EVENTS.items():
        name = f"{table}_tally_{event}"
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_pg_delta(table, sources)} RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


# -- both --------------------------------------------------------------------------------------


def install(conn: Connection) -> None:
    """(Re)create the triggers, then count every existing row afresh: the tallies are exact
    from this transaction on. Safe to run again."""
    postgres = conn.dialect.name == "postgresql"
    for table in TALLIES:
        for event in PG_EVENTS:
            drop_on = f" ON {table}" if postgres else ""
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_tally_{event}{drop_on}")
        # Triggers first: on PostgreSQL creating one waits for writers in flight and holds
        # off new ones until commit, so nothing is written uncounted between count and commit.
        for statement in _pg_triggers(table) if postgres else _sqlite_triggers(table):
            conn.exec_driver_sql(statement)
        tally = TALLIES[table].name
        cols = _columns(table)
        conn.exec_driver_sql(f"DELETE FROM {tally}")
        conn.exec_driver_sql(
            f"INSERT INTO {tally} ({cols}, n) SELECT {', '.join(_key(table, ''))}, count(*) "
            f"FROM {table} WHERE {_counted(table, '')} GROUP BY {', '.join(_key(table, ''))}"
        )


def fold(conn: Connection) -> None:
    """PostgreSQL: replace each key's rows by one row of their sum, unless another node is
    folding now (then its fold serves). Rows appended meanwhile stay, to be summed on read."""
    if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FOLD_LOCK}).scalar():
        return
    for table, tally in TALLIES.items():
        cols = _columns(table)
        conn.exec_driver_sql(
            f"WITH gone AS (DELETE FROM {tally.name} RETURNING {cols}, n) "
            f"INSERT INTO {tally.name} ({cols}, n) SELECT {cols}, sum(n) FROM gone "
            f"GROUP BY {cols} HAVING sum(n) <> 0"
        )


def reminder_counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(state, channel, deferral reasons or '', count) of every reminder, nonzero counts."""
    return _summed(conn, t.reminder_tallies, ("state", "channel", "reason"))


def attempt_counts(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(channel, outcome, error code or '', count) of failed and unknown attempts."""
    return _summed(conn, t.attempt_tallies, ("channel", "outcome", "error_code"))


def _summed(
    conn: Connection, tally: Table, key: tuple[str, str, str]
) -> list[tuple[str, str, str, int]]:
    """Each ``key`` of ``tally`` with the sum of its rows (appended deltas on PostgreSQL),
    nonzero sums only."""
    columns = [tally.c[name] for name in key]
    query = (
        select(*columns, func.sum(tally.c.n).label("n"))
        .group_by(*columns)
        .having(func.sum(tally.c.n) != 0)
    )
    return [(row[0], row[1], row[2], int(row.n)) for row in conn.execute(query)]
