"""A payment posted through the API while the case's reminder waits, claimed, for a send slot
stops that send: the claim is checked again just before it goes out and decided anew. Run
several times, each time against a different place in the queue."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from dispatcher.daemon import Daemon
from tests import scripted_channel
from tests.api.conftest import add_tokens, bearer
from tests.conftest import Deployment, free_port, seed
from tests.scripted_channel import ScriptedChannel

PEOPLE = 6


@pytest.mark.parametrize("paid", [1, 2, 3, 4, 5])
async def test_a_payment_during_the_claim_stops_the_send(
    open_deployment: Deployment, monkeypatch: pytest.MonkeyPatch, paid: int
) -> None:
    dep = open_deployment
    ScriptedChannel.reset()
    for env, value in add_tokens(dep).items():
        monkeypatch.setenv(env, value)
    port = free_port()
    dep.set("dispatcher.toml", r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"')
    dep.set("dispatcher.toml", r"^concurrency = \d+", "concurrency = 1")
    dep.set(
        "dispatcher.toml",
        r'^\[channels\.sms\]\nplugin = "outbox"\ndirectory = ".*"\ncontact = "phone"',
        '[channels.sms]\nplugin = "scripted"\ndelay = 0.15',
    )
    seed(dep, PEOPLE)
    daemon = Daemon(dep.config, extra_plugins=[scripted_channel.plugin])
    run = asyncio.create_task(daemon.run())
    try:
        while not ScriptedChannel.calls:
            assert not run.done(), "the daemon stopped"
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as http:
            answer = await http.post(
                f"http://127.0.0.1:{port}/v1/cases/C{paid}/events",
                json={"kind": "paid"},
                headers=bearer("writer"),
            )
            assert answer.status == 200, await answer.text()
        while len(ScriptedChannel.calls) < PEOPLE - 1 or daemon.dispatcher.in_flight:  # type: ignore[union-attr]
            assert not run.done(), "the daemon stopped"
            await asyncio.sleep(0.02)
    finally:
        daemon.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, timeout=20)
    assert f"P{paid}" not in ScriptedChannel.calls
    assert sorted(ScriptedChannel.calls) == sorted(f"P{i}" for i in range(PEOPLE) if i != paid)
    store = dep.store()
    try:
        history = store.case_history(f"C{paid}")
    finally:
        store.close()
    assert history.reminders[0].state.value in ("suppressed", "cancelled")
    assert [a["outcome"] for a in history.attempts] == ["released"]
