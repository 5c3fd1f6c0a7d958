"""The email channel in the example deployment, through the real dispatch loop and the
daemon's HTTP server: the commented block in dispatcher.toml works as written, a refusal the
server may lift (451) is retried by the core, a dead address (550) suppresses later reminders,
a spam refusal fails one reminder and leaves the address usable, and the one-click unsubscribe
link records an opt-out, of every email channel, that suppresses the next reminder."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dispatcher_plugins.email.unsubscribe import Unsubscribe

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.model import ReminderState
from dispatcher.runtime import Runtime, load_runtime
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.conftest import Deployment
from tests.plugins.smtp_peer import SmtpPeer

SECRET = "a-long-unsubscribe-secret"
ADDRESS = "zhang.wei@example.com"


def use_email_plugin(dep: Deployment, port: int) -> None:
    """The email channel's commented block, as dispatcher.toml tells an admin, pointed at the
    loopback server (which offers no TLS, so no login)."""
    block = dep.enable_commented(
        "email",
        {
            "host": '"127.0.0.1"',
            "port": str(port),
            "tls": '"none"',
            "public_url": '"http://127.0.0.1:8080"',
        },
        leave_out=("username", "password"),
    )
    assert 'plugin = "email"' in block and '"${EMAIL_UNSUBSCRIBE_SECRET}"' in block


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpPeer]:
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,email,letter")
    monkeypatch.setenv("EMAIL_UNSUBSCRIBE_SECRET", SECRET)
    with SmtpPeer() as peer:
        yield peer


@pytest.fixture
def emailing(open_deployment: Deployment, smtp: SmtpPeer) -> Deployment:
    use_email_plugin(open_deployment, smtp.port)
    now = datetime.now(UTC)
    store = open_deployment.store()
    person = PersonIn(
        id="P1", name="张伟", locale="zh-CN", timezone="Asia/Shanghai", emails=(ADDRESS,)
    )
    case = CaseIn(
        id="C1",
        person_id="P1",
        amount="1234.50",
        currency="CNY",
        due_date=date.today() - timedelta(days=10),
        schedule="standard",
    )
    store.upsert([person], [case], now)
    # Planned far ahead, so the planner adds nothing of its own.
    store.add_reminders([email_reminder(now)], [("C1", now + timedelta(days=3650))], now)
    store.close()
    return open_deployment


def email_reminder(now: datetime, step: str = "email-1", channel: str = "email") -> NewReminder:
    return NewReminder(
        case_id="C1",
        person_id="P1",
        schedule="adhoc",
        step=step,
        channel=channel,
        template="overdue_email",
        due_at=now - timedelta(minutes=1),
    )


def enqueue_another(dep: Deployment, channel: str = "email", step: int = 2) -> int:
    store = dep.store()
    try:
        now = datetime.now(UTC)
        return store.enqueue(email_reminder(now, f"{channel}-{step}", channel), now)
    finally:
        store.close()


def reminder_states(dep: Deployment) -> dict[int, tuple[ReminderState, str | None]]:
    store = dep.store()
    try:
        history = store.case_history("C1")
    finally:
        store.close()
    return {r.id: (r.state, history.reminder_reasons.get(r.id)) for r in history.reminders}


def settled(dep: Deployment) -> bool:
    return all(state is not ReminderState.PENDING for state, _ in reminder_states(dep).values())


async def dispatch_until(runtime: Runtime, dep: Deployment, done: Callable[[], bool]) -> Dispatcher:
    store = StoreThread(dep.store())
    dispatcher = Dispatcher(store, runtime)
    task = asyncio.create_task(dispatcher.run())
    try:
        for _ in range(500):
            if done() or task.done():
                break
            await asyncio.sleep(0.02)
        assert done(), f"not done: {reminder_states(dep)}"
    finally:
        dispatcher.stop()
        await task
        store.shutdown()
    return dispatcher


def test_the_commented_email_block_passes_check(
    emailing: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emailing.cli("check").returncode == 0, emailing.cli("check").stdout
    monkeypatch.delenv("EMAIL_UNSUBSCRIBE_SECRET")
    missing = emailing.cli("check")
    assert missing.returncode == 1
    assert "channels.email.unsubscribe_secret: environment variable" in missing.stdout


async def test_a_451_is_retried_by_the_core_and_then_delivered(
    emailing: Deployment, smtp: SmtpPeer
) -> None:
    runtime = load_runtime(emailing.config)
    await runtime.channels["email"].open()
    smtp.refuse("rcpt", 451, None)  # busy once, then accepted

    dispatcher = await dispatch_until(runtime, emailing, lambda: smtp.requests == 1)
    await runtime.channels["email"].close()

    assert smtp.refusals == [("rcpt", 451)] and dispatcher.counters.retried == 1
    [mail] = smtp.received
    assert mail["Subject"] == "示例借贷公司：您的 1,234.50 CNY 款项已逾期"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and "尊敬的张伟" in text.get_content()
    assert html is not None and "<strong>1,234.50 CNY</strong>" in html.get_content()
    assert [state for state, _ in reminder_states(emailing).values()] == [ReminderState.SENT]


async def test_a_550_marks_the_address_and_later_reminders_are_suppressed(
    emailing: Deployment, smtp: SmtpPeer
) -> None:
    runtime = load_runtime(emailing.config)
    await runtime.channels["email"].open()
    smtp.refuse("rcpt", 550)

    await dispatch_until(runtime, emailing, lambda: settled(emailing))
    later = enqueue_another(emailing)
    await dispatch_until(runtime, emailing, lambda: settled(emailing))
    await runtime.channels["email"].close()

    assert smtp.refusals == [("rcpt", 550)], "refused once, never tried again"
    assert smtp.requests == 0
    states = reminder_states(emailing)
    assert [state for state, _ in states.values()] == [
        ReminderState.FAILED,
        ReminderState.SUPPRESSED,
    ]
    assert states[later][1] == "contact_invalid"


async def test_one_click_unsubscribe_records_an_opt_out_and_the_next_reminder_is_suppressed(
    emailing: Deployment, smtp: SmtpPeer
) -> None:
    runtime = load_runtime(emailing.config)
    await runtime.channels["email"].open()
    await dispatch_until(runtime, emailing, lambda: smtp.requests == 1)
    path = unsubscribe_path(smtp.received[0])

    async with http_client(emailing) as client:
        page = await client.get(path)
        assert page.status == 200 and '<form method="post">' in await page.text()
        assert opted_out(emailing) == [], "showing the page changes nothing"

        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert (await client.post(forged, data={"List-Unsubscribe": "One-Click"})).status == 403
        assert (await client.post("/email/unsubscribe/not-a-token")).status == 403
        assert opted_out(emailing) == []

        for _ in range(2):  # the second is a no-op
            done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
            assert done.status == 200
        assert opted_out(emailing) == [("*", ADDRESS)], "this address, on any channel"

    later = enqueue_another(emailing)
    await dispatch_until(runtime, emailing, lambda: settled(emailing))
    await runtime.channels["email"].close()
    assert smtp.requests == 1
    state, reason = reminder_states(emailing)[later]
    assert (state, reason) == (ReminderState.SUPPRESSED, "opt_out")


async def test_an_unsubscribe_stops_every_email_channel_and_nothing_else(
    emailing: Deployment, smtp: SmtpPeer
) -> None:
    """A second email channel (its own secret) beside the first: a link sent by either opts
    the address out of both; the SMS and letter channels are left alone."""
    config = emailing.config / "dispatcher.toml"
    email_block = config.read_text().partition("[channels.email]\n")[2].partition("\n[")[0]
    second = email_block.replace('"${EMAIL_UNSUBSCRIBE_SECRET}"', '"another-long-secret"')
    emailing.write("dispatcher.toml", config.read_text() + "\n[channels.notices]\n" + second)
    templates = emailing.config / "templates"
    shutil.copytree(templates / "email", templates / "notices")
    runtime = load_runtime(emailing.config)
    assert sorted(c.name for c in runtime.channels.values() if c.type_name == "email") == [
        "email",
        "notices",
    ]
    for channel in ("email", "notices"):
        await runtime.channels[channel].open()
    enqueue_another(emailing, "notices", step=1)
    await dispatch_until(runtime, emailing, lambda: smtp.requests == 2)
    # The link in the email the second channel sent.
    [path] = [unsubscribe_path(mail) for mail in smtp.received if token_of(mail) == "notices"]

    async with http_client(emailing) as client:
        done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status == 200
    assert opted_out(emailing) == [("*", ADDRESS)]

    later = [enqueue_another(emailing, "email"), enqueue_another(emailing, "notices")]
    await dispatch_until(runtime, emailing, lambda: settled(emailing))
    for channel in ("email", "notices"):
        await runtime.channels[channel].close()
    assert smtp.requests == 2
    states = reminder_states(emailing)
    assert [states[r] for r in later] == [(ReminderState.SUPPRESSED, "opt_out")] * 2


def unsubscribe_path(mail: EmailMessage) -> str:
    link = str(mail["List-Unsubscribe"]).strip("<>")
    path = link.removeprefix("http://127.0.0.1:8080")
    assert path.startswith("/email/unsubscribe/")
    return path


def token_of(mail: EmailMessage) -> str:
    """The channel that sent ``mail``, from its unsubscribe token."""
    token = Unsubscribe.parse(unsubscribe_path(mail).rsplit("/", 1)[1])
    assert token is not None
    return token.channel


@contextlib.asynccontextmanager
async def http_client(dep: Deployment) -> AsyncIterator[TestClient[Any, Any]]:
    """The daemon's HTTP app on its own store connection."""
    daemon = Daemon(dep.config)
    client: TestClient[Any, Any] = TestClient(
        TestServer(build_app(daemon.metrics, daemon.ready, daemon.core_access()))
    )
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store.close()


def opted_out(dep: Deployment) -> list[tuple[str, str | None]]:
    store = dep.store()
    try:
        person = store.get_person("P1")
    finally:
        store.close()
    assert person is not None
    return [(o.channel, o.contact) for o in person.opt_outs]
