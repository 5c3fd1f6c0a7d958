"""``simulate``: the daemon's own planner and dispatch loop in virtual time.

The cases are copied into a throw-away store; the real ``Dispatcher`` runs over it with a
virtual clock that jumps from one due instant to the next, and the planner runs at each step
as its cron job would. Channels are replaced by ones that succeed at once (calls answered at
a given rate), so nothing is sent and the live store is never written. Because the loop, the
policy and the planner are the daemon's, simulate and the daemon cannot disagree: a test runs
both and compares.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dispatcher.channel import Channel, Message, SendResult
from dispatcher.dispatch.loop import Dispatcher
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.model import Case, ContactKind, Outcome, Person, PhoneLine, Reminder, ReminderState
from dispatcher.planner import run_planner
from dispatcher.planner.arrangements import break_arrangements
from dispatcher.policy import Policy
from dispatcher.policy.jurisdictions import person_reading
from dispatcher.policy.windows import open_interval
from dispatcher.policy.wishes import wished_windows
from dispatcher.policy.zones import person_zones
from dispatcher.runtime import Runtime
from dispatcher.store import open_store
from dispatcher.store.api import CaseIn, PersonIn, Store

QUIET_POLL = 0.002  # seconds between looks at whether the loop has finished a step


class VirtualClock:
    """A clock the simulation moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class SimulatedChannel(Channel):
    """Succeeds at once. A call becomes a conversation with probability ``answer_rate``,
    decided per attempt from a seeded generator, so a run is repeatable."""

    type_name = "simulated"

    def __init__(self, name: str, contact_kind: ContactKind, answer_rate: float, seed: int):
        super().__init__(name, None)  # type: ignore[arg-type]
        self.contact_kind = contact_kind
        self.answer_rate = answer_rate
        self.seed = seed

    async def send(self, message: Message) -> SendResult:
        if self.answer_rate and message.channel in VOICE_CHANNELS:
            roll = random.Random(f"{self.seed}:{message.reminder_id}").random()
            if roll < self.answer_rate:
                return SendResult(provider_id="simulated", outcome=Outcome.CONVERSATION)
        return SendResult(provider_id="simulated")


VOICE_CHANNELS = {"voice"}


@dataclass(frozen=True)
class Contact:
    """One simulated send."""

    case_id: str
    person_id: str
    channel: str
    template: str
    step: str
    at: datetime
    zones: tuple[str, ...]
    outcome: str
    in_closed_window: bool
    zone: str = ""  # the person's primary zone (steps' ``at`` is read there)
    jurisdictions: tuple[str, ...] = ()  # those of policy.toml the person is in

    @property
    def local(self) -> datetime:
        """When it went, in the person's primary zone."""
        return self.at.astimezone(ZoneInfo(self.zone or self.zones[0]))

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.case_id, self.step, self.channel)


@dataclass
class SimulationResult:
    start: datetime
    end: datetime
    contacts: list[Contact] = field(default_factory=list)
    suppressed: list[tuple[str, str, str]] = field(default_factory=list)  # case, step, reason
    pending: int = 0  # reminders still waiting at the end
    arrangements: dict[str, int] = field(default_factory=dict)  # by state, at the end


# A simulated instalment is paid this long before the end of its due day (in the evening,
# after that day's reminder), if it is paid at all.
PAID_BEFORE_DEADLINE = timedelta(hours=6)


@dataclass(frozen=True)
class InstalmentPayer:
    """Pays each instalment of an active arrangement on its due day with probability
    ``share``, decided per instalment from ``seed`` (a run is repeatable); one not paid
    breaks its arrangement once its grace is over, as in the daemon."""

    share: float
    seed: int

    def __call__(self, store: Store, now: datetime) -> int:
        paid = 0
        for arrangement in store.active_arrangements():
            for i in arrangement.instalments:
                if i.settled or i.deadline is None or now < i.deadline - PAID_BEFORE_DEADLINE:
                    continue
                roll = random.Random(f"{self.seed}:{arrangement.id}:{i.number}").random()
                if roll >= self.share:
                    continue
                store.record_payment(
                    arrangement.case_id,
                    i.owed,
                    (i.deadline - PAID_BEFORE_DEADLINE).date(),
                    f"simulated-{arrangement.id}-{i.number}",
                    now=now,
                    source="simulate",
                )
                paid += 1
        return paid


def simulation_runtime(runtime: Runtime, answer_rate: float, seed: int) -> Runtime:
    """``runtime`` with every channel replaced by a simulated one of the same contact kind;
    the loop's timings are shortened (they change when work happens in real time, not what
    is decided)."""
    channels: dict[str, Channel] = {
        name: SimulatedChannel(name, channel.contact_kind, answer_rate, seed)
        for name, channel in runtime.channels.items()
    }
    for name, channel in channels.items():
        channel.window_exempt = runtime.channels[name].window_exempt
    config = runtime.config
    dispatch = config.dispatcher.dispatch.model_copy(
        update={
            "record_interval": timedelta(milliseconds=1),
            "poll_interval": timedelta(milliseconds=50),
            "retry_max_wait": timedelta(0),
        }
    )
    settings = config.dispatcher.model_copy(update={"dispatch": dispatch})
    return replace(runtime, config=replace(config, dispatcher=settings), channels=channels)


async def _quiet(store: StoreThread, now: datetime) -> None:
    """Wait until the loop has decided everything due at ``now`` and recorded every send."""
    while True:
        busy = await store.call(_busy, store.store, now)
        if not busy:
            return
        await asyncio.sleep(QUIET_POLL)


def _busy(store: Store, now: datetime) -> bool:
    report = store.status(now)
    claimed = any(state == ReminderState.CLAIMED.value for state, _, _ in report.by_state_channel)
    return claimed or report.due_now > 0


async def drive(
    runtime: Runtime,
    store: Store,
    clock: VirtualClock,
    end: datetime,
    *,
    dispatcher: Dispatcher | None = None,
    plan: Any = None,
    payer: InstalmentPayer | None = None,
) -> None:
    """Step ``clock`` through every due instant up to ``end``, planning at each step, while
    the dispatch loop runs. ``dispatcher`` and ``plan`` default to a fresh loop over ``store``
    and the planner; the daemon test passes the daemon's own."""
    thread = dispatcher.store if dispatcher else StoreThread(store)
    own = dispatcher is None
    if dispatcher is None:
        dispatcher = Dispatcher(thread, runtime, clock=clock)
    task = asyncio.create_task(dispatcher.run()) if own else None

    async def plan_now() -> None:
        if payer is not None:  # before the planner breaks what is unpaid
            await thread.call(payer, store, clock())
        if plan is not None:
            await plan()
            return
        await thread.call(
            run_planner,
            store,
            runtime.config.schedules,
            runtime.config.dispatcher.fallback_timezone,
            clock(),
        )
        await thread.call(break_arrangements, store, runtime.config, clock())

    try:
        while True:
            await plan_now()
            dispatcher.wake()
            await _quiet(thread, clock())
            next_due = await thread.call(store.next_due_at)
            horizon = clock() + runtime.config.schedules.plan_ahead
            step = min(next_due, horizon) if next_due else horizon
            if step > end:
                break
            clock.now = max(step, clock.now + timedelta(microseconds=1))
    finally:
        if task is not None:
            dispatcher.stop()
            await task
            thread.shutdown()


def load_cases(
    store: Store,
    people: Sequence[PersonIn],
    cases: Sequence[CaseIn],
    opt_outs: Iterable[tuple[str, str, str | None]],
    at: datetime,
) -> None:
    # Exactly as `dispatcher import` would: state (and any pause end) as given, no events.
    store.upsert(list(people), list(cases), at)
    for person_id, channel, contact in opt_outs:
        store.opt_out(person_id, channel, contact, now=at, source="simulate")


def stored_input(
    people: Sequence[Person], cases: Sequence[Case]
) -> tuple[list[PersonIn], list[CaseIn], list[tuple[str, str, str | None]]]:
    """Stored people and cases as ``simulate``'s input: the people's opt-outs, consents and
    wishes with them; an address the provider called invalid is left out, as the policy
    would never pick it."""
    kinds = {ContactKind.PHONE: 0, ContactKind.EMAIL: 1, ContactKind.POSTAL: 2}
    given: list[PersonIn] = []
    for person in people:
        values: tuple[list[str], list[str], list[str]] = ([], [], [])
        lines: list[PhoneLine | None] = []
        for point in sorted(person.contacts, key=lambda p: p.priority):
            if point.status != "invalid":
                values[kinds[point.kind]].append(point.value)
                if point.kind is ContactKind.PHONE:
                    lines.append(point.line)
        given.append(
            PersonIn(
                id=person.id,
                name=person.name,
                locale=person.locale,
                timezone=person.timezone,
                phones=tuple(values[0]),
                emails=tuple(values[1]),
                addresses=tuple(values[2]),
                consents=tuple((c.channel, c.contact) for c in person.consents),
                wishes=person.wishes or None,
                phone_lines=tuple(lines) if any(lines) else (),
            )
        )
    # A case's fields are CaseIn's and more (its state a StrEnum, so the text import takes).
    # Its moratorium is not given: simulate copies no case events (the console leaves out a
    # case in a breathing space), and one already ended is no moratorium to record.
    copied = [f.name for f in fields(CaseIn) if f.name != "breathing_space"]
    taken = [CaseIn(**{name: getattr(case, name) for name in copied}) for case in cases]
    opt_outs = [(p.id, o.channel, o.contact) for p in people for o in p.opt_outs]
    return given, taken, opt_outs


def simulate(
    runtime: Runtime,
    people: Sequence[PersonIn] = (),
    cases: Sequence[CaseIn] = (),
    *,
    start: datetime,
    days: int,
    answer_rate: float = 0.0,
    seed: int = 1,
    opt_outs: Iterable[tuple[str, str, str | None]] = (),
    source_url: str | None = None,
    instalments_paid: float = 1.0,
) -> SimulationResult:
    """Run ``days`` of virtual time from ``start`` over ``cases`` — or, with ``source_url``,
    over a copy of that whole store (its reminders and past attempts included, so rate limits
    and planned steps are what the daemon would see); nothing leaves the process. Each
    instalment of an arrangement is paid on its due day with probability
    ``instalments_paid``, else missed (its arrangement breaks after the grace)."""
    end = start + timedelta(days=days)
    sim = simulation_runtime(runtime, answer_rate, seed)
    with tempfile.TemporaryDirectory(prefix="dispatcher-simulate-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'simulate.db'}"
        if source_url is not None:
            from dispatcher.store.transfer import transfer

            transfer(source_url, url)
        store = open_store(url)
        try:
            if source_url is not None:
                # Sends in flight in the live store: their outcome is unknown, as after a stop.
                store.expire_claims(start, [], timedelta(0))
            else:
                load_cases(store, people, cases, opt_outs, start)
            clock = VirtualClock(start)
            payer = InstalmentPayer(instalments_paid, seed)
            asyncio.run(drive(sim, store, clock, end, payer=payer))
            return collect(store, runtime, start, end)
        finally:
            store.close()


def collect(store: Store, runtime: Runtime, start: datetime, end: datetime) -> SimulationResult:
    """The contacts a run made, read back from its store."""
    from dispatcher.store import schema as t

    result = SimulationResult(start, end)
    engine = store.engine  # type: ignore[attr-defined]
    people: dict[str, Person] = {}
    with engine.connect() as conn:
        reminders = {
            row.id: row for row in conn.execute(select(t.reminders).order_by(t.reminders.c.id))
        }
        attempts = list(conn.execute(select(t.attempts).order_by(t.attempts.c.at)))
    fallback = runtime.config.dispatcher.fallback_timezone
    for attempt in attempts:
        # History copied from a live store is context, not part of the plan.
        if attempt.outcome == Outcome.RELEASED.value or not start <= attempt.at < end:
            continue
        reminder = reminders[attempt.reminder_id]
        person = people.get(attempt.person_id) or store.get_person(attempt.person_id)
        assert person is not None
        people[person.id] = person
        choice = person_zones(person, fallback)
        zones = choice.zones
        policy, reading = person_reading(runtime.policy, person)
        result.contacts.append(
            Contact(
                case_id=attempt.case_id,
                person_id=attempt.person_id,
                channel=attempt.channel,
                template=reminder.template,
                step=reminder.step,
                at=attempt.at,
                zones=zones,
                outcome=attempt.outcome,
                in_closed_window=in_closed_window(
                    policy, person, attempt.channel, zones, attempt.at
                ),
                zone=choice.at_zone,
                jurisdictions=reading.names,
            )
        )
    for row in reminders.values():
        ended = row.state in (ReminderState.SUPPRESSED.value, ReminderState.CANCELLED.value)
        if ended and row.updated_at >= start:  # not the live store's earlier history
            result.suppressed.append((row.case_id, row.step, row.last_reason or ""))
        elif row.state == ReminderState.PENDING.value:
            result.pending += 1
    result.arrangements = store.arrangement_counts()
    return result


def per_jurisdiction(result: SimulationResult) -> dict[str, int]:
    """Contacts made per jurisdiction (a person in several counts in each; ``-`` is none)."""
    counts: dict[str, int] = {}
    for contact in result.contacts:
        for name in contact.jurisdictions or ("-",):
            counts[name] = counts.get(name, 0) + 1
    return counts


def in_closed_window(
    policy: Policy, person: Person, channel: str, zones: tuple[str, ...], at: datetime
) -> bool:
    """Whether ``at`` falls, in any of ``zones``, outside the channel's windows (or on a
    holiday), or outside the hours the person's wishes leave open for it: the policy holds
    every contact to both (a window-exempt channel, a letter, to neither)."""
    rules = policy.rules_for(channel)
    if rules.windows is not None and any(
        open_interval(rules.windows, zone, at, rules.closed_in(zone)) is None for zone in zones
    ):
        return True
    traits = policy.channels.get(channel)
    if traits is None or traits.window_exempt or not person.wishes.hours:
        return False
    return any(
        open_interval(windows, zone, at) is None
        for _, windows in wished_windows(person, channel)
        for zone in zones
    )


def reminder_key(reminder: Reminder) -> tuple[str, str, str]:
    return (reminder.case_id, reminder.step, reminder.channel)
