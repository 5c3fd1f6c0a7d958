"""Twilio's callbacks through the daemon's HTTP server, with the example deployment's commented
Twilio blocks turned on against a loopback Twilio: signatures checked (unsigned and tampered
requests change nothing), STOP and START replies, delivery and call status, a human
conversation, a voicemail for a machine; and the effect on the next reminders: a STOP
suppresses the next SMS (``opt_out``), a conversation defers the next call by the cooldown."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.model import ReminderState
from dispatcher.store.api import NewReminder
from dispatcher.testing.twilio_peer import ACCOUNT_SID, AUTH_TOKEN, TwilioPeer, sign
from tests.conftest import OPEN_ALL_DAY, Deployment, seed
from tests.plugins.twilio.conftest import PUBLIC

NUMBER = "+8613800000000"  # person P0's phone in tests.conftest.seed


def use_twilio_plugins(dep: Deployment, api_base: str) -> None:
    """The sms and voice channels' commented Twilio blocks, as dispatcher.toml tells an admin,
    with the loopback Twilio's account and address."""
    for channel in ("sms", "voice"):
        block = dep.enable_commented(
            channel,
            {"account_sid": f'"{ACCOUNT_SID}"', "max_rate": "500", "api_base": f'"{api_base}"'},
        )
        assert f'plugin = "twilio-{channel}"' in block
        assert 'auth_token = "${TWILIO_AUTH_TOKEN}"' in block


@dataclass
class Deployed:
    """The daemon's parts in this process: its HTTP app, a dispatch loop, the peer."""

    daemon: Daemon
    client: TestClient[Any, Any]
    twilio: TwilioPeer
    dep: Deployment

    async def post(self, path_qs: str, form: dict[str, str], signature: str | None = "sign") -> int:
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(AUTH_TOKEN, PUBLIC + path_qs, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = await self.client.post(path_qs, data=form, headers=headers)
        return response.status

    async def reply(self, body: str, **extra: str) -> int:
        form = {"AccountSid": ACCOUNT_SID, "From": NUMBER, "To": "+12025550100", "Body": body}
        return await self.post("/twilio/inbound?channel=sms", {**form, **extra})

    async def store(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.daemon.store_thread.call(
            getattr(self.daemon.store, method), *args, **kwargs
        )

    async def dispatch_until(self, done: Callable[[], Any]) -> None:
        """Run the dispatch loop until ``done()`` (checked between turns)."""
        dispatcher = Dispatcher(self.daemon.store_thread, self.daemon.runtime)
        task = asyncio.create_task(dispatcher.run())
        try:
            for _ in range(500):
                if await done() or task.done():
                    break
                await asyncio.sleep(0.02)
            assert await done(), "the dispatch loop did not get there"
        finally:
            dispatcher.stop()
            await task

    async def history(self, case_id: str = "C0") -> Any:
        return await self.store("case_history", case_id)


@pytest.fixture
def on_twilio(
    deployment: Deployment, twilio: TwilioPeer, monkeypatch: pytest.MonkeyPatch
) -> Deployment:
    """The example deployment with its Twilio blocks on, against the loopback Twilio."""
    monkeypatch.setenv("DISPATCHER_PLUGINS", "outbox,sms,voice,letter")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    use_twilio_plugins(deployment, twilio.url)
    return deployment


@pytest.fixture
async def deployed(
    on_twilio: Deployment, open_deployment: Deployment, twilio: TwilioPeer
) -> AsyncIterator[Deployed]:
    daemon = Daemon(open_deployment.config)
    for channel in daemon.runtime.channels.values():
        channel.attach(daemon.services)
        await channel.open()
    app = build_app(daemon.metrics, daemon.ready, daemon.core_access())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Deployed(daemon, client, twilio, open_deployment)
    finally:
        await client.close()
        for channel in daemon.runtime.channels.values():
            await channel.close()
        daemon.store_thread.shutdown()
        daemon.store.close()


def test_the_commented_twilio_blocks_pass_check(
    on_twilio: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert on_twilio.cli("check").returncode == 0
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    missing = on_twilio.cli("check")
    assert missing.returncode == 1
    assert "channels.sms.auth_token: environment variable TWILIO_AUTH_TOKEN" in missing.stdout


async def test_unsigned_and_tampered_callbacks_are_refused_and_change_nothing(
    deployed: Deployed,
) -> None:
    seed(deployed.dep, 1)
    form = {"AccountSid": ACCOUNT_SID, "From": NUMBER, "Body": "STOP"}
    path = "/twilio/inbound?channel=sms"
    assert await deployed.post(path, form, signature=None) == 403
    signed = sign(AUTH_TOKEN, PUBLIC + path, form)
    assert await deployed.post(path, {**form, "From": "+8613800000009"}, signed) == 403
    assert await deployed.post(path + "x", form, signed) == 403, "the query is signed too"
    wrong = sign("another-token-entirely", PUBLIC + path, form)
    assert await deployed.post(path, form, wrong) == 403
    assert (await deployed.store("get_person", "P0")).opt_outs == ()
    # The same request, properly signed, goes through; without ?channel= by its account.
    assert await deployed.post("/twilio/inbound", form) == 200
    assert len((await deployed.store("get_person", "P0")).opt_outs) == 1


async def test_a_stop_reply_suppresses_the_next_sms_and_start_lifts_it(
    deployed: Deployed,
) -> None:
    seed(deployed.dep, 1)
    assert await deployed.reply("help") == 200
    assert (await deployed.store("get_person", "P0")).opt_outs == ()
    assert await deployed.reply(" Stop ") == 200
    assert await deployed.reply("STOP") == 200, "a duplicate is harmless"
    [opt_out] = (await deployed.store("get_person", "P0")).opt_outs
    assert (opt_out.channel, opt_out.contact) == ("sms", NUMBER)

    async def decided() -> bool:
        return bool((await deployed.history()).decisions)

    await deployed.dispatch_until(decided)
    history = await deployed.history()
    assert deployed.twilio.messages == []
    assert history.reminders[0].state is ReminderState.SUPPRESSED
    assert [code for code, *_ in history.decisions[0]["reasons"]] == ["opt_out"]

    assert await deployed.reply("UNSTOP") == 200
    assert (await deployed.store("get_person", "P0")).opt_outs == ()


async def sent_sms(deployed: Deployed) -> dict[str, str]:
    """Seed one SMS reminder, let the loop send it; the request Twilio got."""
    seed(deployed.dep, 1)

    async def recorded() -> bool:
        attempts = (await deployed.history()).attempts
        return bool(attempts) and attempts[0]["outcome"] == "placed"

    await deployed.dispatch_until(recorded)
    [message] = deployed.twilio.messages
    return message


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    assert url.startswith(PUBLIC)
    return f"{parts.path}?{parts.query}"


async def test_delivery_reports_settle_the_attempt_once(deployed: Deployed) -> None:
    message = await sent_sms(deployed)
    [attempt] = (await deployed.history()).attempts
    path = callback_path(message["StatusCallback"])
    report = {"AccountSid": ACCOUNT_SID, "MessageSid": attempt["provider_id"]}
    assert await deployed.post(path, {**report, "MessageStatus": "delivered"}) == 204
    assert await deployed.post(path, {**report, "MessageStatus": "delivered"}) == 204
    assert await deployed.post(path, {**report, "MessageStatus": "sent"}) == 204
    history = await deployed.history()
    assert history.attempts[0]["outcome"] == "delivered"
    assert history.reminders[0].state is ReminderState.DELIVERED


async def undelivered(deployed: Deployed, code: str) -> tuple[str, dict[str, str]]:
    """Send one SMS; its callback path and an ``undelivered`` report with ``code`` for it."""
    message = await sent_sms(deployed)
    [attempt] = (await deployed.history()).attempts
    report = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": attempt["provider_id"],
        "MessageStatus": "undelivered",
        "ErrorCode": code,
    }
    return callback_path(message["StatusCallback"]), report


async def test_an_undelivered_21610_opts_the_number_out(deployed: Deployed) -> None:
    path, report = await undelivered(deployed, "21610")
    assert await deployed.post(path, report) == 204
    history = await deployed.history()
    assert (history.attempts[0]["outcome"], history.attempts[0]["error_code"]) == (
        "failed-permanent",
        "21610",
    )
    assert [o.contact for o in (await deployed.store("get_person", "P0")).opt_outs] == [NUMBER]


@pytest.mark.parametrize("max_tries", [5, 1])
async def test_an_sms_undelivered_for_a_temporary_reason_is_tried_again_up_to_max_tries(
    deployed: Deployed, max_tries: int
) -> None:
    toml = deployed.dep.config / "dispatcher.toml"
    toml.write_text(toml.read_text().replace("max_tries = 5", f"max_tries = {max_tries}"))
    assert await deployed.daemon.reload()
    path, report = await undelivered(deployed, "30003")
    before = datetime.now(UTC)
    assert await deployed.post(path, report, signature=None) == 403
    assert (await deployed.history()).reminders[0].state is ReminderState.SENT
    assert await deployed.post(path, report) == 204
    assert await deployed.post(path, report) == 204, "a duplicate is harmless"
    history = await deployed.history()
    assert history.attempts[0]["outcome"] == "failed-transient"
    [reminder] = history.reminders
    reason = history.reminder_reasons[reminder.id]
    if max_tries == 1:
        assert (reminder.state, reason) == (ReminderState.FAILED, "gave_up:30003")
    else:
        # Back in the queue after [dispatch] reschedule_after (15m): the next claim decides
        # it again through the policy.
        assert (reminder.state, reason) == (ReminderState.PENDING, "retry:30003")
        assert before + timedelta(minutes=15) <= reminder.due_at
        assert reminder.due_at <= datetime.now(UTC) + timedelta(minutes=15)


async def test_a_temporary_delivery_failure_follows_the_channels_own_long_retries(
    deployed: Deployed,
) -> None:
    toml = deployed.dep.config / "dispatcher.toml"
    text = toml.read_text()
    assert text.count("[channels.sms]\n") == 1
    toml.write_text(text.replace("[channels.sms]\n", '[channels.sms]\nreschedule_after = "45m"\n'))
    assert await deployed.daemon.reload()
    path, report = await undelivered(deployed, "30003")
    before = datetime.now(UTC)
    assert await deployed.post(path, report) == 204
    [reminder] = (await deployed.history()).reminders
    # The sms channel's 45 minutes, not [dispatch]'s 15.
    assert reminder.state is ReminderState.PENDING
    assert before + timedelta(minutes=45) <= reminder.due_at
    assert reminder.due_at <= datetime.now(UTC) + timedelta(minutes=45)


async def test_an_attempt_left_unknown_by_a_crash_is_resolved_by_its_callback(
    deployed: Deployed,
) -> None:
    seed(deployed.dep, 1)
    now = datetime.now(UTC)
    runtime = deployed.daemon.runtime
    batch = await deployed.store(
        "claim_due", now, 10, lambda r, p, c, h: _send_now(runtime, r, p, c, h, now), timedelta(0)
    )
    [claim] = batch.claims
    await deployed.store("start_sending", batch.claims, "", now)  # handed to the channel…
    await deployed.store("recover", now, [])  # …and the daemon died before recording
    assert (await deployed.history()).attempts[0]["outcome"] == "unknown"
    path = f"/twilio/status?channel=sms&attempt={claim.attempt_id}"
    report = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "1" * 32}
    assert await deployed.post(path, {**report, "MessageStatus": "delivered"}) == 204
    history = await deployed.history()
    assert (history.attempts[0]["outcome"], history.attempts[0]["provider_id"]) == (
        "delivered",
        report["MessageSid"],
    )
    assert history.reminders[0].state is ReminderState.DELIVERED


def _send_now(
    runtime: Any, reminder: Any, person: Any, case: Any, history: Any, now: datetime
) -> Any:
    from dispatcher.policy import decide

    return decide(runtime.policy, reminder, person, case, history, now)


async def call(deployed: Deployed, step: str) -> None:
    """Enqueue a call on case C0 (seeded), due now."""
    now = datetime.now(UTC)
    reminder = NewReminder(
        case_id="C0",
        person_id="P0",
        schedule="adhoc",
        step=step,
        channel="voice",
        template="call_script",
        due_at=now - timedelta(seconds=1),
    )
    await deployed.store("enqueue", reminder, now)


async def placed_call_of(deployed: Deployed) -> tuple[dict[str, str], str]:
    """Seed a person and case (their e-mail is not ours), let the loop place one call; the
    request Twilio got and the call's SID."""
    seed(deployed.dep, 1, channel="email")
    await call(deployed, "call-1")

    async def placed() -> bool:
        return any(a["outcome"] == "placed" for a in (await deployed.history()).attempts)

    await deployed.dispatch_until(placed)
    [placed_call] = deployed.twilio.calls
    [attempt] = [a for a in (await deployed.history()).attempts if a["channel"] == "voice"]
    return placed_call, attempt["provider_id"]


async def voice_attempt(deployed: Deployed) -> dict[str, Any]:
    [attempt] = [a for a in (await deployed.history()).attempts if a["channel"] == "voice"]
    return attempt


def spoken(twiml: str) -> str:
    """What a TwiML document says (its one ``<Say>``)."""
    match = re.search(r"<Say[^>]*>(.*)</Say>", twiml)
    assert match, twiml
    return match.group(1)


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w{3,}", text)}


async def test_a_call_speaks_only_once_a_person_answered(deployed: Deployed) -> None:
    placed_call, sid = await placed_call_of(deployed)
    initial = placed_call["Twiml"]
    assert "<Say" not in initial and "<Pause" in initial
    assert placed_call["AsyncAmd"] == "true"
    amd = callback_path(placed_call["AsyncAmdStatusCallback"])
    human = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "AnsweredBy": "human"}

    # Unsigned or tampered verdicts change nothing: no word is said, no conversation.
    assert await deployed.post(amd, human, signature=None) == 403
    assert await deployed.post(amd, human, signature=sign(AUTH_TOKEN, PUBLIC + amd, {})) == 403
    assert deployed.twilio.call_updates == []
    assert (await voice_attempt(deployed))["outcome"] == "placed"

    assert await deployed.post(amd, human) == 204
    assert await deployed.post(amd, human) == 204, "a duplicate is harmless"
    assert await deployed.post(amd, {**human, "AnsweredBy": "machine_end_beep"}) == 204
    [(updated, update)] = deployed.twilio.call_updates
    body = spoken(update["Twiml"])
    assert updated == sid and "Please call us back at" in body  # the rendered call script
    # Reg F §1006.2(j): the call's first TwiML said none of it.
    assert not words(body) & words(initial)
    assert (await voice_attempt(deployed))["outcome"] == "conversation"


async def test_a_human_conversation_defers_the_next_call_by_the_cooldown(
    deployed: Deployed,
) -> None:
    deployed.dep.write(
        "policy.toml",
        OPEN_ALL_DAY + '\n[cooldown]\nchannels = ["voice"]\nper = "7d"\nscope = "case"\n',
    )
    await deployed.daemon.reload()
    placed_call, sid = await placed_call_of(deployed)
    path = callback_path(placed_call["StatusCallback"])
    status = {"AccountSid": ACCOUNT_SID, "CallSid": sid}
    assert (
        await deployed.post(path, {**status, "CallStatus": "completed", "AnsweredBy": "human"})
        == 204
    )
    history = await deployed.history()
    assert [a["outcome"] for a in history.attempts if a["channel"] == "voice"] == ["conversation"]

    await call(deployed, "call-2")

    async def deferred() -> bool:
        reminders = (await deployed.history()).reminders
        return any(r.step == "call-2" and r.due_at > datetime.now(UTC) for r in reminders)

    await deployed.dispatch_until(deferred)
    history = await deployed.history()
    [second] = [r for r in history.reminders if r.step == "call-2"]
    assert second.due_at >= datetime.now(UTC) + timedelta(days=6, hours=23)
    codes = [
        code
        for d in history.decisions
        if d["reminder_id"] == second.id
        for code, *_ in d["reasons"]
    ]
    assert "cooldown" in codes
    assert len(deployed.twilio.calls) == 1


async def test_a_machine_gets_the_voicemail_once_a_busy_line_is_an_attempt(
    deployed: Deployed,
) -> None:
    placed_call, sid = await placed_call_of(deployed)
    amd = callback_path(placed_call["AsyncAmdStatusCallback"])
    form = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "AnsweredBy": "machine_start"}
    assert await deployed.post(amd, form) == 204
    assert deployed.twilio.call_updates == [], "still greeting: nothing said yet"
    form["AnsweredBy"] = "machine_end_beep"
    assert await deployed.post(amd, form) == 204
    assert await deployed.post(amd, form) == 204
    [(updated, update)] = deployed.twilio.call_updates
    voicemail = spoken(update["Twiml"])
    assert updated == sid and "Please call" in voicemail
    assert "account" not in voicemail, "the limited-content voicemail, not the call script"
    assert (await voice_attempt(deployed))["outcome"] == "placed", "no conversation"

    status = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": "busy"}
    assert await deployed.post(callback_path(placed_call["StatusCallback"]), status) == 204
    attempt = await voice_attempt(deployed)
    assert (attempt["outcome"], attempt["error_code"], attempt["counted"]) == (
        "failed-transient",
        "busy",
        True,
    )


async def test_a_fax_is_hung_up_on_without_a_word(deployed: Deployed) -> None:
    placed_call, sid = await placed_call_of(deployed)
    amd = callback_path(placed_call["AsyncAmdStatusCallback"])
    form = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "AnsweredBy": "fax"}
    assert await deployed.post(amd, form) == 204
    assert await deployed.post(amd, form) == 204, "a duplicate is harmless"
    [(updated, update)] = deployed.twilio.call_updates
    assert updated == sid and "<Hangup" in update["Twiml"] and "<Say" not in update["Twiml"]
    attempt = await voice_attempt(deployed)  # still a call attempt (Reg F §1006.14(b)(3))
    assert (attempt["outcome"], attempt["counted"]) == ("placed", True)


def test_check_refuses_a_voice_channel_that_cannot_detect_machines(
    on_twilio: Deployment,
) -> None:
    deployment = on_twilio
    text = (deployment.config / "dispatcher.toml").read_text()
    voice = text.index("[channels.voice]")
    line = 'status_callback_base = "https://dispatch.example.com"\n'
    deployment.write("dispatcher.toml", text[:voice] + text[voice:].replace(line, "", 1))
    refused = deployment.cli("check")
    assert refused.returncode == 1
    assert "channels.voice.status_callback_base: is required" in refused.stdout
    assert "channels.sms" not in refused.stdout

    deployment.write("dispatcher.toml", text)
    assert deployment.cli("check").returncode == 0
    script = deployment.config / "templates" / "voice" / "call_script.en.j2"
    source = script.read_text()
    script.write_text(source[source.index("#}") + 3 :])  # no meta block: no voicemail
    refused = deployment.cli("check")
    assert refused.returncode == 1
    assert "voice/call_script.en.voicemail: a call on channel voice needs" in refused.stdout


async def test_a_person_who_heard_nothing_is_no_conversation(deployed: Deployed) -> None:
    """The call's script is gone (expired, or removed by the call's end): the person got
    a silent call. It counts as an attempt; it starts no conversation cooldown."""
    placed_call, sid = await placed_call_of(deployed)
    amd = callback_path(placed_call["AsyncAmdStatusCallback"])
    await deployed.daemon.runtime.channels["voice"].forget(  # type: ignore[attr-defined]
        (await voice_attempt(deployed))["id"]
    )
    human = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "AnsweredBy": "human"}
    assert await deployed.post(amd, human) == 204
    assert deployed.twilio.call_updates == []
    attempt = await voice_attempt(deployed)
    assert (attempt["outcome"], attempt["counted"]) == ("placed", True)
