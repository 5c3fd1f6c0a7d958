"""Voice on any node: three daemons on one PostgreSQL store, Twilio's callbacks for a call
passed (as a proxy in front of them would) to a node other than the one that placed it. The
person hears the call's script all the same, once, and the script leaves the store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatcher.store import open_store, schema
from dispatcher.store.api import NewReminder
from dispatcher.testing.twilio_peer import AUTH_TOKEN, TwilioPeer
from tests.conftest import Deployment, seed, stop, wait_for
from tests.daemon.test_scale_out import _log, _start
from tests.plugins.twilio.test_webhooks import use_twilio_plugins

SCRIPT_WORDS = "Please call us back at"  # in the example's rendered call script


@pytest.fixture
def twilio() -> Iterator[TwilioPeer]:
    with TwilioPeer() as peer:
        yield peer


@pytest.fixture
def voice_cluster(
    open_deployment: Deployment,
    pg_url: str,
    twilio: TwilioPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    """The example deployment on PostgreSQL with its Twilio blocks on, each node's HTTP
    listener on a port of its own."""
    dep = open_deployment
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,sms,voice,letter")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    use_twilio_plugins(dep, twilio.url)
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{pg_url}"')
    dep.set("dispatcher.toml", r'^listen = ".*"$', 'listen = "127.0.0.1:0"')
    dep.url = pg_url  # what the test seeds and reads
    return dep


def _address(dep: Deployment, node: str) -> str:
    """Where ``node`` listens (it picked a free port and logged it)."""
    found = wait_for(lambda: re.search(r"listen=\"?127\.0\.0\.1:(\d+)", _log(dep, node)))
    return f"http://127.0.0.1:{found.group(1)}"


def _started(dep: Deployment, *nodes: str) -> None:
    wait_for(lambda: all("dispatcher started" in _log(dep, node) for node in nodes), timeout=60)


def _voice_attempt(url: str) -> dict[str, Any]:
    """The call's attempt as the store has it ({} before there is one)."""
    store = open_store(url, migrate=False)
    try:
        attempts = [a for a in store.case_history("C0").attempts if a["channel"] == "voice"]
    finally:
        store.close()
    return attempts[0] if attempts else {}


def _scripts_kept(url: str) -> int:
    store = open_store(url, migrate=False)
    try:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            return int(conn.execute(select(func.count()).select_from(schema.call_scripts)).scalar())
    finally:
        store.close()


def _enqueue_call(dep: Deployment) -> None:
    seed(dep, 1, channel="email")
    now = datetime.now(UTC)
    store = dep.store()
    try:
        store.enqueue(
            NewReminder(
                case_id="C0",
                person_id="P0",
                schedule="adhoc",
                step="call-1",
                channel="voice",
                template="call_script",
                due_at=now - timedelta(seconds=1),
            ),
            now,
        )
    finally:
        store.close()


def test_a_call_placed_by_one_node_is_answered_by_another(
    voice_cluster: Deployment, pg_url: str, twilio: TwilioPeer
) -> None:
    dep = voice_cluster
    # node-0 alone places the call, so the callbacks are known to reach other nodes.
    nodes = {"node-0": _start(dep, "node-0")}
    try:
        _started(dep, "node-0")
        _enqueue_call(dep)
        wait_for(lambda: _voice_attempt(pg_url).get("outcome") == "placed", timeout=60)
        [placed] = twilio.calls
        sid = _voice_attempt(pg_url)["provider_id"]
        assert _scripts_kept(pg_url) == 1, "the script waits in the store, not in node-0"
        for node in ("node-1", "node-2"):
            nodes[node] = _start(dep, node)
        _started(dep, "node-1", "node-2")
        verdict = {"CallSid": sid, "AnsweredBy": "human"}
        amd = placed["AsyncAmdStatusCallback"]

        assert twilio.call_back(amd, verdict, _address(dep, "node-1")) == 204
        [(updated, update)] = twilio.call_updates
        assert updated == sid and SCRIPT_WORDS in update["Twiml"], "the person hears it"
        # Once, whichever node a repeated verdict reaches.
        for node in ("node-2", "node-0"):
            assert twilio.call_back(amd, verdict, _address(dep, node)) == 204
        assert len(twilio.call_updates) == 1
        assert _scripts_kept(pg_url) == 0, "taken by the verdict: no personal data left"
        assert _voice_attempt(pg_url)["outcome"] == "conversation"

        ended = {"CallSid": sid, "CallStatus": "completed", "AnsweredBy": "human"}
        assert twilio.call_back(placed["StatusCallback"], ended, _address(dep, "node-2")) == 204
        assert _voice_attempt(pg_url)["outcome"] == "conversation"
    finally:
        outputs = {node: stop(process) for node, process in nodes.items()}
    assert all(p.returncode == 0 for p in nodes.values()), outputs
