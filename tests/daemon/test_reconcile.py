"""The daemon's reconciliation (``dispatcher.daemon.reconcile``) on a real SQLite store:
answers recorded (sent, not sent, unknown kept), a page per store call and per ``reconcile``,
messages rendered again only for a channel that resends and only while the case is open, and
a failing channel logged once per outage, never raised. Then the real daemon: it reconciles
Twilio's unknown attempts at start against the loopback Twilio, and ``status`` and
``/metrics`` count every unknown attempt left, by channel."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from dispatcher.channel import (
    Channel,
    ChannelSettings,
    Message,
    Reconciled,
    SendResult,
    UnknownAttempt,
)
from dispatcher.daemon.reconcile import Reconciler
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind
from dispatcher.runtime import load_runtime
from dispatcher.store import schema as t
from dispatcher.testing.twilio_peer import AUTH_TOKEN, TwilioPeer
from tests.conftest import Deployment, free_port, http_get, stop, wait_for
from tests.plugins.twilio.conftest import SENDER
from tests.plugins.twilio.test_webhooks import use_twilio_plugins
from tests.unknown_attempts import make_unknown


class AskedChannel(Channel):
    """Answers ``reconcile`` from ``answers`` (unknown for the rest), or raises ``failing``;
    keeps each page it was asked."""

    type_name = "asked"
    contact_kind = ContactKind.PHONE
    Settings = ChannelSettings
    reconcile_resends = True
    answers: ClassVar[dict[str, Reconciled]] = {}
    pages: ClassVar[list[list[UnknownAttempt]]] = []
    failing: ClassVar[Exception | None] = None

    async def send(self, message: Message) -> SendResult:
        return SendResult()

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        if AskedChannel.failing is not None:
            raise AskedChannel.failing
        AskedChannel.pages.append(list(attempts))
        return {a.attempt_id: self.answers.get(a.attempt_id, Reconciled.UNKNOWN) for a in attempts}


class Plugin:
    @hookimpl
    def register_channels(self, register: Callable[[type[Any]], None]) -> None:
        register(AskedChannel)


@pytest.fixture
def asked(open_deployment: Deployment) -> Any:
    dep = open_deployment
    dep.set(
        "dispatcher.toml",
        r'^\[channels\.sms\]\nplugin = "outbox"\ndirectory = ".*"\ncontact = "phone"',
        '[channels.sms]\nplugin = "asked"',
    )
    AskedChannel.answers, AskedChannel.pages, AskedChannel.failing = {}, [], None
    runtime = load_runtime(dep.config, extra_plugins=[Plugin()])
    store = dep.store()
    store.migrate()
    thread = StoreThread(store)
    yield dep, store, Reconciler(thread, lambda: runtime, lambda: datetime.now(UTC), page=2)
    thread.shutdown()
    store.close()


def _states(store: Any) -> dict[str, str]:
    r = t.reminders.c
    with store.engine.connect() as conn:
        return dict(conn.execute(select(r.case_id, r.state)).all())


async def test_answers_are_recorded_a_page_at_a_time(asked: Any) -> None:
    _, store, reconciler = asked
    ids = make_unknown(store, 5)
    make_unknown(store, 1, start=5, case_state="paid")
    AskedChannel.answers = {ids[0]: Reconciled.SENT, ids[1]: Reconciled.NOT_SENT}
    assert (await reconciler.round())["sms"] == 2
    assert [len(page) for page in AskedChannel.pages] == [2, 2, 2]
    states = _states(store)
    assert (states["C0"], states["C1"], states["C2"]) == ("sent", "pending", "unknown")
    assert store.unknown_counts() == {"sms": 4}
    asked_about = {a.attempt_id: a for page in AskedChannel.pages for a in page}
    assert asked_about[ids[2]].message is not None, "an open case's message, rendered again"
    assert asked_about[ids[2]].message.contact == asked_about[ids[2]].contact
    assert asked_about["u000005"].message is None, "a paid case's letter is not resent"
    # The next round asks only about those still unknown.
    AskedChannel.pages = []
    assert (await reconciler.round())["sms"] == 0
    assert sorted(a.attempt_id for page in AskedChannel.pages for a in page) == [
        *ids[2:],
        "u000005",
    ]


async def test_a_failing_channel_is_logged_once_and_tried_again(
    asked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, store, reconciler = asked
    ids = make_unknown(store, 1)
    AskedChannel.failing = RuntimeError("provider down\nwith a second line")
    caplog.set_level(logging.INFO, logger="dispatcher.daemon")
    assert "sms" not in await reconciler.round()
    assert "sms" not in await reconciler.round()
    failed = [r for r in caplog.records if "reconciliation failed" in r.getMessage()]
    assert len(failed) == 1
    assert failed[0].fields["error"] == "RuntimeError: provider down"  # type: ignore[attr-defined]
    AskedChannel.failing = None
    AskedChannel.answers = {ids[0]: Reconciled.SENT}
    assert (await reconciler.round())["sms"] == 1
    assert any("reconciliation works again" in r.getMessage() for r in caplog.records)


async def test_a_store_that_fails_is_tried_again_next_round(asked: Any) -> None:
    _, store, reconciler = asked
    make_unknown(store, 1)
    store.engine.dispose()
    real = store.unknown_attempts

    def broken(*args: Any) -> Any:
        raise OSError("database is gone")

    store.unknown_attempts = broken
    assert "sms" not in await reconciler.round()
    store.unknown_attempts = real
    AskedChannel.answers = {"u000000": Reconciled.NOT_SENT}
    assert (await reconciler.round())["sms"] == 1


def test_old_claims_are_asked_with_their_instant(asked: Any) -> None:
    _, store, _ = asked
    make_unknown(store, 1)
    [row] = store.unknown_attempts("sms", None, None, 10)
    assert datetime.now(UTC) - timedelta(hours=2) < row.at < datetime.now(UTC)


# -- the real daemon, against the loopback Twilio ---------------------------------------------


def test_the_daemon_reconciles_twilio_at_start_and_counts_what_is_left(
    open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = open_deployment
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    dep.set(
        "dispatcher.toml",
        r"^fallback_locale = .*$",
        'fallback_locale = "en"\nstatus_interval = "1s"',
    )
    with TwilioPeer() as twilio:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        use_twilio_plugins(dep, twilio.url)
        store = dep.store()
        store.migrate()
        make_unknown(store, 100)  # Twilio has these messages
        make_unknown(store, 100, start=100)  # Twilio never got these
        make_unknown(store, 100, start=200, channel="email")  # nothing to ask
        store.close()
        for i in range(100):
            claimed = datetime.now(UTC) - timedelta(hours=1) + timedelta(milliseconds=i)
            twilio.remember("Messages", f"+86138{i:08d}", SENDER, claimed + timedelta(seconds=1))
        process = dep.start()
        try:
            # Those Twilio never got go back to pending and are sent now; the others stay.
            wait_for(lambda: len(twilio.messages) == 100, timeout=60)
            wait_for(
                lambda: (
                    'dispatcher_unknown_attempts{channel="sms"} 0.0'
                    in http_get(port, "/metrics")[1]
                ),
                timeout=30,
            )
            metrics = http_get(port, "/metrics")[1]
            status = dep.cli("status").stdout
        finally:
            output = stop(process)
        assert process.returncode == 0, output
    assert 'dispatcher_unknown_attempts{channel="email"} 100.0' in metrics
    assert "attempts with unknown outcome: 100 (email 100)" in status
    assert sorted(m["To"] for m in twilio.messages) == [f"+86138{i:08d}" for i in range(100, 200)]
    states = _states(dep.store())
    assert {states[f"C{i}"] for i in range(100)} == {"sent"}
    assert {states[f"C{i}"] for i in range(200, 300)} == {"unknown"}
    assert "unknown attempts reconciled" in output
