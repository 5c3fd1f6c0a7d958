"""``dispatcher unknown list/resolve`` through the real command, on a real SQLite store with
10,000 unknown attempts: listed in full, resolved in pages, recorded for audit, idempotent,
and counted exactly by ``status``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from dispatcher.store import schema as t
from tests.conftest import Deployment
from tests.unknown_attempts import make_unknown

MANY = 10_000


def _reminder_states(dep: Deployment) -> dict[str, int]:
    store = dep.store()
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(t.reminders.c.state, func.count()).group_by(t.reminders.c.state)
        ).all()
    store.close()
    return {state: n for state, n in rows}


def test_ten_thousand_unknowns_are_listed_counted_and_resolved(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    store = dep.store()
    store.migrate()
    ids = make_unknown(store, MANY)
    store.close()

    status = dep.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"attempts with unknown outcome: {MANY} (sms {MANY})" in status.stdout

    listed = dep.cli("unknown", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["attempt_id"] for r in rows] == ids
    assert all(r["to"] != f"+86138{i:08d}" for i, r in enumerate(rows))  # masked

    every = dep.cli("unknown", "resolve", "--not-sent", "--all", "--reason", "SMTP log: never")
    assert every.returncode == 0, every.stderr
    assert f"{MANY} attempts resolved as not_sent" in every.stdout
    assert _reminder_states(dep) == {"pending": MANY}
    store = dep.store()
    assert store.unknown_counts() == {}
    with store.engine.connect() as conn:
        assert conn.execute(select(func.max(t.reminders.c.tries))).scalar_one() == 0
        counted = select(func.count()).where(t.attempts.c.counted.is_(True))
        assert conn.execute(counted).scalar_one() == 0  # nobody contacted: no limit counts
        decisions = select(func.count()).where(t.decisions.c.verdict == "resolved")
        assert conn.execute(decisions).scalar_one() == MANY
    store.close()


def test_one_resolved_twice_changes_once_and_is_explained(open_deployment: Deployment) -> None:
    dep = open_deployment
    store = dep.store()
    store.migrate()
    ids = make_unknown(store, 3)
    store.close()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert dep.cli("unknown", "list", "--since", later, "--channel", "sms").stdout == ""
    one = dep.cli("unknown", "resolve", "--sent", ids[0], "--reason", "seen in the provider")
    assert one.returncode == 0, one.stderr
    assert "1 attempts resolved as sent" in one.stdout
    again = dep.cli("unknown", "resolve", "--sent", *ids[:2], "--reason", "seen in the provider")
    assert "1 attempts resolved as sent; 1 not unknown" in again.stdout
    assert _reminder_states(dep) == {"sent": 2, "unknown": 1}
    explained = dep.cli("explain", "C0").stdout
    assert "decision resolved" in explained and "seen in the provider" in explained


def test_resend_and_a_channel_selection(open_deployment: Deployment) -> None:
    dep = open_deployment
    store = dep.store()
    store.migrate()
    make_unknown(store, 3)
    make_unknown(store, 2, channel="email", start=3)
    store.close()
    result = dep.cli("unknown", "resolve", "--resend", "--channel", "email", "--reason", "x")
    assert result.returncode == 0, result.stderr
    assert "2 attempts resolved as resend" in result.stdout
    assert "attempts with unknown outcome: 3 (sms 3)" in dep.cli("status").stdout
    states = _reminder_states(dep)
    assert states == {"unknown": 3, "pending": 2}
    audit = dep.cli(
        "audit", "export", "--since", "2000-01-01", "--format", "jsonl", "--until", "2100-01-01"
    )
    assert audit.returncode == 0, audit.stderr
    resolved = [json.loads(line) for line in audit.stdout.splitlines()]
    resolved = [r for r in resolved if r["verdict"] == "resolved"]
    assert len(resolved) == 2
    assert resolved[0]["reasons"] == [["unknown_resend", "cli: x"]]


def test_bad_resolutions_are_refused_clearly(open_deployment: Deployment) -> None:
    dep = open_deployment
    cases = [
        (["--all", "--reason", "r"], "--sent, --not-sent or --resend"),
        (["--sent", "--reason", "r"], "IDS, --all or --channel"),
        (["--sent", "--all", "--channel", "sms", "--reason", "r"], "one of them"),
        (["--sent", "--channel", "fax", "--reason", "r"], "unknown channel 'fax'"),
    ]
    for args, message in cases:
        result = dep.cli("unknown", "resolve", *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    result = dep.cli("unknown", "list", "--since", "yesterday")
    assert result.returncode != 0 and "not a date" in result.stderr
