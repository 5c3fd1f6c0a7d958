"""The dispatch loop in process, on a real SQLite file, with a scripted channel: retries,
rescheduling, permanent failures, crashes of a plugin, one contact in flight per person, and
a graceful stop that gives back what it had not started."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatcher.channel import PermanentError, Slots, TransientError
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.hookspecs import hookimpl
from dispatcher.runtime import load_runtime
from dispatcher.store import schema
from tests import scripted_channel
from tests.conftest import Deployment, seed
from tests.scripted_channel import ScriptedChannel

DISPATCH = """
[dispatch]
batch_size = 100
concurrency = 8
poll_interval = "100ms"
retry_attempts = 3
retry_max_wait = "50ms"
reschedule_after = "15m"
max_tries = 3
drain_timeout = "5s"
record_interval = "10ms"
"""


@pytest.fixture
def dep(open_deployment: Deployment) -> Deployment:
    ScriptedChannel.reset()
    text = (open_deployment.config / "dispatcher.toml").read_text()
    head = text.split("[dispatch]")[0]
    tail = text.split("[template_vars]")[1].split("[channels.sms]")[0]
    open_deployment.write(
        "dispatcher.toml",
        head
        + DISPATCH
        + "\n[template_vars]"
        + tail
        + '[channels.sms]\nplugin = "scripted"\n\n'
        + "".join(
            f'[channels.{c}]\nplugin = "outbox"\ndirectory = "{open_deployment.outbox}"\n'
            f'contact = "{k}"\n\n'
            for c, k in (("voice", "phone"), ("email", "email"), ("letter", "postal"))
        ),
    )
    return open_deployment


def _dispatcher(dep: Deployment, delay: float = 0.0) -> tuple[Dispatcher, StoreThread]:
    if delay:
        dep.set(
            "dispatcher.toml", r'^plugin = "scripted"$', f'plugin = "scripted"\ndelay = {delay}'
        )
    runtime = load_runtime(dep.config, extra_plugins=[scripted_channel.plugin])
    store = StoreThread(dep.store())
    return Dispatcher(store, runtime), store


async def _run_until(dispatcher: Dispatcher, done: Callable[[], bool], timeout: float = 15) -> None:
    task = asyncio.create_task(dispatcher.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not done():
            if loop.time() > deadline:
                raise AssertionError("condition not reached")
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    finally:
        dispatcher.stop()
        await task


def _rows(dep: Deployment, table: schema.Table) -> list:  # type: ignore[name-defined]
    store = dep.store()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(table)).all()
    store.close()
    return rows


def _reminder(dep: Deployment, person: str):  # type: ignore[no-untyped-def]
    return next(r for r in _rows(dep, schema.reminders) if r.person_id == person)


async def _until_settled(dep: Deployment, timeout: float = 20) -> None:
    """Wait (the loop running) until no reminder is pending or claimed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while any(r.state in ("pending", "claimed") for r in _rows(dep, schema.reminders)):
        assert asyncio.get_running_loop().time() < deadline, "reminders left unsettled"
        await asyncio.sleep(0.05)


def _sending(dep: Deployment) -> set[str]:
    """The people whose claims are confirmed for sending."""
    return {a.person_id for a in _rows(dep, schema.attempts) if a.outcome == "sending"}


def _attempts(dep: Deployment, person: str) -> list:
    return [a for a in _rows(dep, schema.attempts) if a.person_id == person]


async def test_transient_refusals_are_retried_in_process(dep: Deployment) -> None:
    seed(dep, 1)
    ScriptedChannel.script["P0"] = [
        TransientError("busy", code="20429"),
        TransientError("busy", code="20429"),
        None,
    ]
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "sent")
    store.shutdown()
    assert len(ScriptedChannel.sent) == 1
    assert ScriptedChannel.calls == ["P0", "P0", "P0"]
    assert dispatcher.counters.retried == 2
    [attempt] = _attempts(dep, "P0")
    assert attempt.outcome == "placed" and attempt.counted


async def test_long_transient_is_rescheduled_not_slept_on(dep: Deployment) -> None:
    seed(dep, 1)
    ScriptedChannel.script["P0"] = [TransientError("provider down", retry_after=3600, code="503")]
    dispatcher, store = _dispatcher(dep)
    before = datetime.now(UTC)
    await _run_until(
        dispatcher,
        lambda: (
            _reminder(dep, "P0").last_reason is not None
            and _reminder(dep, "P0").last_reason.startswith("retry")
        ),
    )
    store.shutdown()
    reminder = _reminder(dep, "P0")
    assert reminder.state == "pending"
    due = reminder.due_at.replace(tzinfo=UTC)
    # The later of the provider's hint (1h) and the configured backoff (15m doubled per try).
    assert due >= before + timedelta(minutes=59)
    assert reminder.last_reason == "retry:503"
    [attempt] = _attempts(dep, "P0")
    assert attempt.outcome == "failed-transient"
    assert not attempt.counted, "a refusal before contact does not count toward limits"
    assert ScriptedChannel.calls == ["P0"], "no in-process retry beyond the short wait"


async def test_permanent_invalid_number_suppresses_later_reminders(dep: Deployment) -> None:
    seed(dep, 1)
    ScriptedChannel.script["P0"] = [
        PermanentError("unroutable", code="21612", mark_contact="invalid")
    ]
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "failed")
    # A second reminder to the same number.
    s = dep.store()
    from dispatcher.store.api import NewReminder

    s.enqueue(
        NewReminder(
            case_id="C0",
            person_id="P0",
            schedule="adhoc",
            step="2",
            channel="sms",
            template="first_notice",
            due_at=datetime.now(UTC) - timedelta(seconds=1),
        ),
        datetime.now(UTC),
    )
    s.close()
    store.shutdown()
    dispatcher, store = _dispatcher(dep)
    await _run_until(
        dispatcher, lambda: any(r.state == "suppressed" for r in _rows(dep, schema.reminders))
    )
    store.shutdown()
    contact = next(
        c for c in _rows(dep, schema.contact_points) if c.person_id == "P0" and c.kind == "phone"
    )
    assert contact.status == "invalid"
    second = [r for r in _rows(dep, schema.reminders) if r.step == "2"][0]
    assert second.state == "suppressed" and second.last_reason == "contact_invalid"
    assert len(ScriptedChannel.calls) == 1


async def test_provider_opt_out_is_recorded_and_honoured(dep: Deployment) -> None:
    seed(dep, 1)
    ScriptedChannel.script["P0"] = [
        PermanentError("unsubscribed", code="21610", mark_contact="opted_out")
    ]
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "failed")
    store.shutdown()
    [opt_out] = _rows(dep, schema.opt_outs)
    assert (opt_out.person_id, opt_out.channel, opt_out.source) == ("P0", "sms", "provider")
    person = dep.store().get_person("P0")
    assert person is not None and person.opt_outs


async def test_plugin_crash_leaves_unknown_and_never_resends(dep: Deployment) -> None:
    seed(dep, 1)
    ScriptedChannel.script["P0"] = [RuntimeError("bug in plugin")]
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "unknown")
    await asyncio.sleep(0.2)
    store.shutdown()
    assert ScriptedChannel.calls == ["P0"]
    [attempt] = _attempts(dep, "P0")
    assert attempt.outcome == "unknown" and attempt.counted


async def test_transient_failures_give_up_after_max_tries(dep: Deployment) -> None:
    seed(dep, 1)
    dep.set("dispatcher.toml", r'^reschedule_after = ".*"$', 'reschedule_after = "10ms"')
    ScriptedChannel.script["P0"] = [TransientError("down", code="500", retry_after=0.2)] * 10
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "failed", timeout=20)
    store.shutdown()
    reminder = _reminder(dep, "P0")
    assert reminder.tries == 3
    assert reminder.last_reason == "gave_up:500"


async def test_one_contact_in_flight_per_person(dep: Deployment) -> None:
    seed(dep, 3)
    # Three more reminders for the same three people, all due now.
    s = dep.store()
    from dispatcher.store.api import NewReminder

    s.add_reminders(
        [
            NewReminder(
                case_id=f"C{i}",
                person_id=f"P{i}",
                schedule="adhoc",
                step=f"x{n}",
                channel="sms",
                template="first_notice",
                due_at=datetime.now(UTC) - timedelta(seconds=1),
            )
            for i in range(3)
            for n in range(3)
        ],
        [],
        datetime.now(UTC),
    )
    s.close()
    dispatcher, store = _dispatcher(dep, delay=0.05)
    await _run_until(dispatcher, lambda: len(ScriptedChannel.sent) == 12)
    store.shutdown()
    assert ScriptedChannel.max_in_flight_per_person == 1


async def test_graceful_stop_releases_unstarted_claims(dep: Deployment) -> None:
    seed(dep, 20)
    dep.set("dispatcher.toml", r"^concurrency = \d+", "concurrency = 2")
    dispatcher, store = _dispatcher(dep, delay=0.3)
    await _run_until(dispatcher, lambda: len(ScriptedChannel.calls) >= 2, timeout=10)
    store.shutdown()
    states = [r.state for r in _rows(dep, schema.reminders)]
    assert "claimed" not in states
    sent = states.count("sent")
    assert sent == len(ScriptedChannel.sent) and sent >= 2
    assert states.count("pending") == 20 - sent
    released = [a for a in _rows(dep, schema.attempts) if a.outcome == "released"]
    assert len(released) == 20 - sent and not any(a.counted for a in released)


async def test_a_stop_while_claims_wait_for_capacity_gives_them_back_unconfirmed(
    dep: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """The channel has no capacity for anyone: its ``ready`` never returns. A stop does not
    wait for it (the drain would time out and cut the sends off): every claim goes back to the
    pool, never confirmed, and nothing was taken that release would have to give back."""
    seed(dep, 3)
    dep.set("dispatcher.toml", r'^drain_timeout = ".*"', 'drain_timeout = "10s"')
    ScriptedChannel.ready_gate = asyncio.Event()
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: ScriptedChannel.readying == 3, timeout=30)
    store.shutdown()
    assert "sends still running at stop" not in caplog.text, "the drain waited for ready"
    assert ScriptedChannel.calls == [] and ScriptedChannel.released == []
    assert [r.state for r in _rows(dep, schema.reminders)] == ["pending"] * 3
    assert [a.outcome for a in _rows(dep, schema.attempts)] == ["released"] * 3


async def test_provider_id_is_recorded_with_the_attempt(dep: Deployment) -> None:
    seed(dep, 2)
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: len(ScriptedChannel.sent) == 2)
    store.shutdown()
    assert re.fullmatch(r"scripted-\d+", _attempts(dep, "P1")[0].provider_id)


class Observer:
    def __init__(self) -> None:
        self.decisions: list[tuple[int, str]] = []
        self.attempts: list[tuple[str, str]] = []

    @hookimpl
    def on_decision(self, reminder, decision) -> None:  # type: ignore[no-untyped-def]
        self.decisions.append((reminder.id, decision.verdict.value))

    @hookimpl
    def on_attempt(self, attempt_id, channel, outcome, error_code) -> None:  # type: ignore[no-untyped-def]
        self.attempts.append((channel, outcome))


async def test_observer_hooks_see_every_decision_and_outcome(dep: Deployment) -> None:
    seed(dep, 3)
    observer = Observer()
    runtime = load_runtime(dep.config, extra_plugins=[scripted_channel.plugin, observer])
    store = StoreThread(dep.store())
    dispatcher = Dispatcher(store, runtime)
    await _run_until(dispatcher, lambda: len(observer.attempts) == 3)
    store.shutdown()
    assert sorted(v for _, v in observer.decisions) == ["send"] * 3
    assert observer.attempts == [("sms", "placed")] * 3


async def test_in_process_retry_rechecks_policy_at_the_retry_instant(dep: Deployment) -> None:
    # Shanghai's window closes at 21:00; the first try fails at 20:59:59 and by the retry the
    # window is closed: the retry must not go out in quiet hours.
    dep.write(
        "policy.toml",
        'jitter = "0s"\n[[windows]]\nchannels = ["*"]\nfrom = "08:00"\nto = "21:00"\n',
    )
    seed(dep, 1, due=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    clock = {"now": datetime(2026, 11, 30, 12, 59, 59, tzinfo=UTC)}  # 20:59:59 in Shanghai

    def fail_then_close_window() -> TransientError:
        clock["now"] = datetime(2026, 11, 30, 13, 0, 1, tzinfo=UTC)
        return TransientError("busy", code="20429")

    ScriptedChannel.script["P0"] = [fail_then_close_window, None]
    runtime = load_runtime(dep.config, extra_plugins=[scripted_channel.plugin])
    store = StoreThread(dep.store())
    dispatcher = Dispatcher(store, runtime, clock=lambda: clock["now"])
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").last_reason == "quiet_hours")
    store.shutdown()
    assert ScriptedChannel.sent == [], "nothing is sent after the window closed"
    assert ScriptedChannel.calls == ["P0"], "the retry was not even tried"
    [attempt] = _attempts(dep, "P0")
    assert (attempt.outcome, attempt.error_code) == ("failed-transient", "policy_recheck")
    # Back in the queue, the reminder was decided again and deferred to the morning.
    reminder = _reminder(dep, "P0")
    assert reminder.state == "pending"
    assert reminder.due_at.replace(tzinfo=UTC) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


async def test_a_claim_whose_case_changed_before_its_send_is_not_sent(dep: Deployment) -> None:
    """A payment recorded while reminders wait claimed for a send slot: by another process
    and by this one (``changed``); both are seen when the claim is confirmed, once its
    channel can take it. Neither is sent; both are decided again and suppressed."""
    seed(dep, 8)
    dep.set("dispatcher.toml", r"^concurrency = \d+", "concurrency = 1")
    # P0's send is held open until the payments are in: the claims behind it wait for the one
    # send slot, however slowly this machine runs the test.
    first_send = asyncio.Event()
    ScriptedChannel.script["P0"] = [first_send]
    dispatcher, store = _dispatcher(dep)
    other = dep.store()
    task = asyncio.create_task(dispatcher.run())
    try:
        while not ScriptedChannel.calls:
            await asyncio.sleep(0.01)
        assert ScriptedChannel.calls == ["P0"]
        # Confirmation never runs ahead of what can be sent: only P0 is confirmed.
        assert _sending(dep) == {"P0"}
        now = datetime.now(UTC)
        await asyncio.to_thread(other.case_event, "C5", "paid", now=now, source="api")
        await asyncio.to_thread(other.case_event, "C1", "paid", now=now, source="api")
        dispatcher.changed(case_id="C1")
        first_send.set()
        await _until_settled(dep)
    finally:
        first_send.set()
        dispatcher.stop()
        await task
        store.shutdown()
        other.close()
    assert sorted(ScriptedChannel.calls) == ["P0", "P2", "P3", "P4", "P6", "P7"]
    for person in ("P1", "P5"):
        assert _reminder(dep, person).state in ("suppressed", "cancelled")
        [attempt] = _attempts(dep, person)
        assert attempt.outcome == "released" and not attempt.counted
    assert dispatcher.counters.rechecked == 2


async def test_outcomes_the_store_refuses_once_are_recorded_on_the_next_try(
    dep: Deployment,
) -> None:
    seed(dep, 3)
    dispatcher, store = _dispatcher(dep)
    real_record = store.store.record
    refusals: list[int] = []

    def record_or_refuse(records, node=""):  # type: ignore[no-untyped-def]
        if not refusals:
            refusals.append(len(records))
            raise RuntimeError("database is locked")
        return real_record(records, node)

    store.store.record = record_or_refuse  # type: ignore[method-assign]

    def all_sent() -> bool:
        return all(r.state == "sent" for r in _rows(dep, schema.reminders))

    await _run_until(dispatcher, all_sent)
    store.shutdown()
    assert refusals, "the store refused a write"
    assert sorted(m.person_id for m in ScriptedChannel.sent) == ["P0", "P1", "P2"]
    assert {a.outcome for a in _rows(dep, schema.attempts)} == {"placed"}


@pytest.mark.parametrize("on_unknown", ["hold", "resend"])
async def test_a_send_of_unknown_outcome_is_not_repeated_unless_the_channel_says_so(
    dep: Deployment, on_unknown: str
) -> None:
    seed(dep, 1)
    dep.set(
        "dispatcher.toml",
        r'^plugin = "scripted"$',
        f'plugin = "scripted"\non_unknown = "{on_unknown}"',
    )
    ScriptedChannel.script["P0"] = [TransientError("no answer", code="timeout", attempted=True)]
    dispatcher, store = _dispatcher(dep)
    # One read: the attempt's outcome and its reminder's state are recorded together.
    await _run_until(
        dispatcher,
        lambda: any(a.outcome not in ("reserved", "sending") for a in _attempts(dep, "P0")),
    )
    store.shutdown()
    reminder = _reminder(dep, "P0")
    [attempt] = _attempts(dep, "P0")
    assert attempt.counted, "it may have reached the person: it counts toward limits"
    assert ScriptedChannel.calls == ["P0"], "never repeated in process"
    if on_unknown == "hold":
        assert (reminder.state, attempt.outcome) == ("unknown", "unknown")
    else:
        assert (reminder.state, attempt.outcome) == ("pending", "failed-transient")
        assert reminder.due_at.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(minutes=10)


async def test_waiting_for_the_senders_capacity_never_carries_a_send_into_quiet_hours(
    dep: Deployment,
) -> None:
    # Decided at 20:59:59 in Shanghai; the sender's throughput cap holds it until 21:00:01.
    dep.write(
        "policy.toml",
        'jitter = "0s"\n[[windows]]\nchannels = ["*"]\nfrom = "08:00"\nto = "21:00"\n',
    )
    seed(dep, 1, due=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    clock = {"now": datetime(2026, 11, 30, 12, 59, 59, tzinfo=UTC)}

    def capacity_after_the_window(_: object) -> None:
        clock["now"] = datetime(2026, 11, 30, 13, 0, 1, tzinfo=UTC)

    ScriptedChannel.on_ready = capacity_after_the_window
    runtime = load_runtime(dep.config, extra_plugins=[scripted_channel.plugin])
    store = StoreThread(dep.store())
    dispatcher = Dispatcher(store, runtime, clock=lambda: clock["now"])
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").last_reason == "quiet_hours")
    store.shutdown()
    assert ScriptedChannel.calls == [], "not sent once the window had closed"
    [attempt] = _attempts(dep, "P0")
    assert not attempt.counted
    assert _reminder(dep, "P0").due_at.replace(tzinfo=UTC) == datetime(
        2026, 12, 1, 0, 0, tzinfo=UTC
    )


async def test_claims_waiting_for_a_send_slot_are_not_confirmed(dep: Deployment) -> None:
    """Slow sends, one at a time: while P0 sends, the claims behind it stay unconfirmed (a
    crash would give them back, not leave them unknown), and a payment recorded meanwhile by
    another process (no ``changed`` call reaches this one) still stops P2."""
    seed(dep, 4)
    dep.set("dispatcher.toml", r"^concurrency = \d+", "concurrency = 1")
    first_send = asyncio.Event()
    ScriptedChannel.script["P0"] = [first_send]
    dispatcher, store = _dispatcher(dep)
    other = dep.store()
    task = asyncio.create_task(dispatcher.run())
    try:
        while not ScriptedChannel.calls:
            await asyncio.sleep(0.01)
        assert _sending(dep) == {"P0"}, "nothing confirmed ahead of its send"
        await asyncio.to_thread(other.case_event, "C2", "paid", now=datetime.now(UTC))
        first_send.set()
        await _until_settled(dep)
    finally:
        first_send.set()
        dispatcher.stop()
        await task
        store.shutdown()
        other.close()
    assert sorted(ScriptedChannel.calls) == ["P0", "P1", "P3"]
    assert _reminder(dep, "P2").state in ("suppressed", "cancelled")


async def test_a_channel_never_has_more_attempts_sending_than_its_capacity(
    dep: Deployment,
) -> None:
    """The capacity a send took comes back only once its outcome is written: with one slot,
    each send finds no other attempt ``sending`` (a crash leaves at most one ``unknown``), even
    when outcomes wait for the record interval."""
    seed(dep, 5)
    dep.set("dispatcher.toml", r'^record_interval = ".*"$', 'record_interval = "300ms"')
    ScriptedChannel.slots = Slots(1)
    seen: dict[str, set[str]] = {}
    for person in (f"P{n}" for n in range(5)):
        ScriptedChannel.script[person] = [lambda p=person: seen.setdefault(p, _sending(dep))]
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: len(seen) == 5 and not _sending(dep))
    store.shutdown()
    assert seen == {p: {p} for p in seen}, "each send alone in sending"
    assert sorted(ScriptedChannel.released) == sorted(seen)


@pytest.mark.parametrize("told", [True, False])
async def test_a_payment_while_the_send_waits_for_capacity_stops_it(
    dep: Deployment, told: bool
) -> None:
    """The sender's cap holds the send before its confirmation; meanwhile the case is paid —
    through this process (``changed``) or another. The send does not go out, and what the
    channel took for it is given back."""
    seed(dep, 1)
    other = dep.store()
    dispatcher, store = _dispatcher(dep)
    waited: list[str] = []

    def pay_while_waiting(message: object) -> None:
        if waited:
            return
        waited.append("paid")
        other.case_event("C0", "paid", now=datetime.now(UTC))
        if told:
            dispatcher.changed(case_id="C0", person_id="P0")

    ScriptedChannel.on_ready = pay_while_waiting
    try:
        await _run_until(
            dispatcher, lambda: _reminder(dep, "P0").state not in ("claimed", "pending")
        )
    finally:
        store.shutdown()
        other.close()
    assert ScriptedChannel.calls == []
    assert ScriptedChannel.released == ["P0"], "what ready took is given back"
    assert _reminder(dep, "P0").state in ("suppressed", "cancelled")
    assert [a.outcome for a in _attempts(dep, "P0")] == ["released"]


async def test_a_channel_that_is_down_keeps_its_reminders_without_spending_their_tries(
    dep: Deployment,
) -> None:
    """Wrong credentials at the provider: every message fails alike until an admin fixes
    them. The reminder waits for that, however long, instead of giving up after max_tries."""
    seed(dep, 1)
    down = TransientError("login refused", code="535", retry_after=300, channel_down=True)
    ScriptedChannel.script["P0"] = [down] * 5
    dispatcher, store = _dispatcher(dep)
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").last_reason == "retry:535")
    store.shutdown()
    reminder = _reminder(dep, "P0")
    assert (reminder.state, reminder.tries) == ("pending", 0)
    [attempt] = _attempts(dep, "P0")
    assert (attempt.outcome, attempt.counted) == ("failed-transient", False)


async def test_a_claim_the_store_could_not_confirm_is_given_back_once_it_answers(
    dep: Deployment,
) -> None:
    seed(dep, 1)
    dispatcher, store = _dispatcher(dep)
    real = {"start_sending": store.store.start_sending, "release": store.store.release}
    refused: list[str] = []

    def refuse_once(name: str):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            if name not in refused:
                refused.append(name)
                raise RuntimeError("database is locked")
            return real[name](*args, **kwargs)

        return call

    store.store.start_sending = refuse_once("start_sending")  # type: ignore[method-assign]
    store.store.release = refuse_once("release")  # type: ignore[method-assign]
    await _run_until(dispatcher, lambda: _reminder(dep, "P0").state == "sent")
    store.shutdown()
    assert refused == ["start_sending", "release"]
    assert ScriptedChannel.calls == ["P0"], "given back, claimed again and sent once"
    assert [a.outcome for a in _attempts(dep, "P0")] == ["released", "placed"]
