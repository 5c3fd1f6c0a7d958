"""Hand-off at the last instant, through the real daemon and a real SMTP server: 30 messages
wait for a pool connection (the server holds DATA of the 4 that have one) when a reload closes
the window, or when the API acknowledges a payment for each of them. None of the 30 leaves
afterwards: a claim is confirmed and decided again only once it holds a connection. And a
connection is given to the next message only once the last one's outcome on it is written."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from benchmarks.kills import seed_email
from dispatcher.store import schema
from tests.conftest import Deployment, free_port, http_get, stop, wait_for
from tests.daemon.test_email import use_email_plugin
from tests.plugins.smtp_peer import SmtpPeer

POOL = 4  # the example's pool_size
WAITING = 30
TOKEN = "a-long-api-token-for-the-hand-off-tests"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpPeer]:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,email,letter")
    monkeypatch.setenv("EMAIL_UNSUBSCRIBE_SECRET", "a-long-unsubscribe-secret")
    monkeypatch.setenv("DISPATCHER_API_TOKEN", TOKEN)
    with SmtpPeer() as peer:
        yield peer


def attempts(dep: Deployment) -> list[str]:
    return list(attempts_by_case(dep).values())


def attempts_by_case(dep: Deployment) -> dict[str, str]:
    """The outcome of each case's attempt (one each here)."""
    store = dep.store()
    try:
        with store.engine.connect() as conn:
            a = schema.attempts.c
            return {row.case_id: row.outcome for row in conn.execute(select(a.case_id, a.outcome))}
    finally:
        store.close()


def reminder_states(dep: Deployment) -> dict[str, str]:
    store = dep.store()
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(schema.reminders.c.case_id, schema.reminders.c.state))
            return {row.case_id: row.state for row in rows}
    finally:
        store.close()


def closed_window() -> str:
    """A policy whose only window, in the people's zone (UTC), opens two hours from now."""
    opens = (datetime.now(UTC) + timedelta(hours=2)).hour
    return (
        'jitter = "0s"\n[[windows]]\nchannels = ["*"]\ndays = "*"\n'
        f'from = "{opens:02d}:00"\nto = "{opens + 1:02d}:00"\n'
    )


def post_paid(port: int, case_id: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/cases/{case_id}/events",
        data=json.dumps({"kind": "paid"}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


@pytest.mark.parametrize("change", ["reload", "paid"])
def test_messages_waiting_for_a_pool_connection_honour_a_change_made_meanwhile(
    open_deployment: Deployment, smtp: SmtpPeer, change: str
) -> None:
    dep = open_deployment
    use_email_plugin(dep, smtp.port)
    dep.set("dispatcher.toml", r"^concurrency = \d+", f"concurrency = {POOL + WAITING}")
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    seed_email(dep.url, POOL + WAITING)
    with smtp.holding() as hold:
        process = dep.start()
        try:
            # Four messages at the server, DATA held; the thirty others wait for a connection,
            # claimed but not confirmed.
            wait_for(lambda: attempts(dep).count("sending") >= POOL, timeout=120)
            assert attempts(dep).count("reserved") == WAITING, "waiting, not confirmed"
            assert smtp.holding_data.is_set()
            waiting = [case for case, o in attempts_by_case(dep).items() if o == "reserved"]
            if change == "reload":
                dep.write("policy.toml", closed_window())
                process.send_signal(1)  # SIGHUP
                wait_for(
                    lambda: (
                        'dispatcher_reloads_total{result="success"} 1.0'
                        in http_get(port, "/metrics")[1]
                    ),
                    timeout=120,
                )
            else:
                for case in waiting:
                    assert post_paid(port, case) == 200  # acknowledged: the payment is recorded
            hold.set()
            # The four held messages complete; the thirty are decided again, none sent (a
            # claim given back after the payment is cancelled by its next decision).
            expected = "pending" if change == "reload" else "cancelled"
            wait_for(
                lambda: (
                    not {"reserved", "sending"} & set(attempts(dep))
                    and list(reminder_states(dep).values()).count(expected) == WAITING
                ),
                timeout=120,
            )
        finally:
            hold.set()
            output = stop(process)
    assert process.returncode == 0, output
    assert smtp.requests == POOL, "only the messages handed to the server before the change left"
    states = reminder_states(dep)
    assert sorted(states.values()).count("sent") == POOL
    assert sorted(states.values()).count(expected) == WAITING, states


def test_a_connection_carries_its_next_message_only_once_the_last_ones_outcome_is_written(
    open_deployment: Deployment, smtp: SmtpPeer
) -> None:
    """Each pool connection has at most one message in limbo (sent, its outcome not yet in the
    store): at every MAIL, the message the same connection carried before is recorded. With
    ``record_interval`` an hour, the burst goes through only because an outcome that holds a
    connection is written at once, never after the interval (a crash would otherwise leave
    ``unknown`` messages the server answered long ago)."""
    dep = open_deployment
    use_email_plugin(dep, smtp.port)
    dep.set("dispatcher.toml", r"^concurrency = \d+", 'concurrency = 32\nrecord_interval = "1h"')
    messages = 24
    seed_email(dep.url, messages)
    engine = create_engine(dep.url)
    checked: list[tuple[str, str]] = []  # (address, its outcome when its connection went on)

    def at_mail(carried: list[str]) -> None:
        if not carried:
            return  # the connection's first message
        a = schema.attempts.c
        with engine.connect() as conn:
            rows = conn.execute(select(a.contact, a.outcome).where(a.contact.in_(carried)))
            checked.extend((row.contact, row.outcome) for row in rows)

    smtp.on_mail = at_mail
    process = dep.start()
    try:
        wait_for(lambda: list(reminder_states(dep).values()).count("sent") == messages, 120)
    finally:
        output = stop(process)
        engine.dispose()
    assert process.returncode == 0, output
    assert smtp.requests == messages
    assert smtp.connections <= POOL
    assert len(checked) >= messages - POOL, "connections carried message after message"
    assert {outcome for _, outcome in checked} == {"placed"}, checked
