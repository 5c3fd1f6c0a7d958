"""Policy decisions per second: ``dispatcher.policy.decide`` on the example config's policy.

The policy is compiled exactly as the daemon compiles it (``load_runtime(config/)``). The
inputs are a fixed, seeded mix meant to look like a real queue: people in nine time zones (a
few without one, so the fallback zone applies), every channel, mostly open cases with some
paused, disputed, ceased or paid, a few opt-outs and dead addresses, histories of 0–10
attempts over the last week (some conversations), and instants spread over a whole week so
that windows are open for some and closed for others. One warm-up pass over every scenario
(it also counts the verdicts), then timed passes until the requested number of decisions.

Then the same mix at fixed history sizes (``HISTORY_SIZES``): every person has exactly that
many past attempts spread over the policy's whole lookback, across the channels, each on the
person's address for its channel, with the outcome mix above; decisions/s at each size and
the cost each past attempt adds. Single process, ``time.perf_counter``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import ZONES, Section
from dispatcher.model import (
    Attempt,
    Case,
    CaseState,
    ContactKind,
    ContactPoint,
    OptOut,
    Outcome,
    Person,
    Reminder,
    Verdict,
)
from dispatcher.policy import Policy, decide
from dispatcher.runtime import load_runtime

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config"
TARGET_PER_S = 50_000
SEED = 20261102
SCENARIOS = 10_000  # distinct (reminder, person, case, history, now) tuples
# Past attempts per person in the runs at a fixed history size; the target is at 30.
HISTORY_SIZES = (0, 10, 30, 100)
TARGET_HISTORY = 30
SIZED_SCENARIOS = 2_000  # fewer per size: 100 attempts each is a lot of objects
MIX_HISTORY = (0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10)  # attempts over the last week
MIX_SPAN = timedelta(days=7)

CHANNELS = (("sms", 40), ("voice", 25), ("email", 25), ("letter", 10))
TEMPLATES = {
    "sms": "first_notice",
    "voice": "call_script",
    "email": "overdue_email",
    "letter": "formal_letter",
}
CASE_STATES = (
    ("open", 86),
    ("plan", 3),
    ("hardship", 2),
    ("disputed", 3),
    ("ceased", 2),
    ("paid", 3),
    ("closed", 1),
)
OUTCOMES = (
    (Outcome.PLACED, 55),
    (Outcome.DELIVERED, 30),
    (Outcome.FAILED_TRANSIENT, 8),
    (Outcome.FAILED_PERMANENT, 3),
    (Outcome.CONVERSATION, 4),
)
# A week that contains weekdays and a weekend, so day-specific windows (voice) matter.
WEEK_START = datetime(2026, 11, 2, tzinfo=UTC)

Scenario = tuple[Reminder, Person, Case, tuple[Attempt, ...], datetime]


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _person(rng: random.Random, n: int) -> Person:
    pid = f"P{n:06d}"
    zone = None if rng.random() < 0.05 else rng.choice(ZONES)
    contacts = [ContactPoint(n * 10 + 1, ContactKind.PHONE, f"+1212555{100 + n % 100:04d}")]
    if rng.random() < 0.2:
        contacts.append(
            ContactPoint(n * 10 + 2, ContactKind.PHONE, f"+1646555{100 + n % 97:04d}", priority=1)
        )
    if rng.random() < 0.9:
        contacts.append(ContactPoint(n * 10 + 3, ContactKind.EMAIL, f"p{n}@example.com"))
    if rng.random() < 0.9:
        contacts.append(ContactPoint(n * 10 + 4, ContactKind.POSTAL, f"{n % 250} Mill Lane"))
    if rng.random() < 0.02:
        dead = contacts[0]
        contacts[0] = ContactPoint(dead.id, dead.kind, dead.value, "invalid", dead.priority)
    opt_outs: list[OptOut] = []
    roll = rng.random()
    if roll < 0.02:
        opt_outs.append(OptOut("sms"))
    elif roll < 0.03:
        opt_outs.append(OptOut("voice", contacts[0].value))
    return Person(
        id=pid,
        name=f"Person {n}",
        locale="zh-CN" if zone == "Asia/Shanghai" else "en",
        timezone=zone,
        contacts=tuple(contacts),
        opt_outs=tuple(opt_outs),
    )


def _case(rng: random.Random, person: Person, n: int, now: datetime) -> Case:
    state = CaseState(_pick(rng, CASE_STATES))
    paused_until = None
    if state in (CaseState.PLAN, CaseState.HARDSHIP):
        # Half still paused, half past their pause date.
        paused_until = now + timedelta(days=rng.choice((-3, -1, 2, 14)))
    return Case(
        id=f"C{n:06d}",
        person_id=person.id,
        amount=f"{rng.randint(50, 5000)}.00",
        currency="USD",
        due_date=(now - timedelta(days=rng.randint(1, 60))).date(),
        state=state,
        schedule="standard",
        paused_until=paused_until,
    )


KIND_OF = {
    "sms": ContactKind.PHONE,
    "voice": ContactKind.PHONE,
    "email": ContactKind.EMAIL,
    "letter": ContactKind.POSTAL,
}


def _history(
    rng: random.Random,
    person: Person,
    case: Case,
    now: datetime,
    count: int,
    span: timedelta,
) -> tuple[Attempt, ...]:
    """``count`` attempts at instants spread over ``span`` before ``now``, each on the
    person's address for its channel (the first phone when there is none of the kind)."""
    attempts = []
    seconds = int(span.total_seconds())
    for i in range(count):
        channel = _pick(rng, CHANNELS)
        outcome = _pick(rng, OUTCOMES)
        contact = next(
            (c.value for c in person.contacts if c.kind is KIND_OF[channel]),
            person.contacts[0].value,
        )
        attempts.append(
            Attempt(
                id=f"A{case.id}-{i}",
                reminder_id=None,
                person_id=person.id,
                # Most attempts were about this case; some about another debt of the person.
                case_id=case.id if rng.random() < 0.8 else f"{case.id}-other",
                channel=channel,
                contact=contact,
                at=now - timedelta(seconds=rng.randint(60, seconds - 1)),
                outcome=outcome,
                counted=outcome is not Outcome.FAILED_TRANSIENT or rng.random() < 0.5,
            )
        )
    return tuple(attempts)


def build_scenarios(
    count: int,
    seed: int = SEED,
    history_size: int | None = None,
    lookback: timedelta = MIX_SPAN,
) -> list[Scenario]:
    """``count`` seeded scenarios; with ``history_size``, every person has exactly that many
    past attempts over ``lookback``, otherwise 0–10 over the last week."""
    rng = random.Random(seed)
    past_rng = random.Random(seed + 1)
    out: list[Scenario] = []
    for n in range(count):
        now = WEEK_START + timedelta(seconds=rng.randint(0, 7 * 86400 - 1))
        person = _person(rng, n)
        case = _case(rng, person, n, now)
        channel = _pick(rng, CHANNELS)
        due = now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
        reminder = Reminder(
            id=n + 1,
            case_id=case.id,
            person_id=person.id,
            schedule="standard",
            step=str(rng.randint(1, 4)),
            channel=channel,
            template=TEMPLATES[channel],
            due_at=due,
            original_due_at=due,
            tries=rng.choice((0, 0, 0, 1)),
        )
        if history_size is None:
            history = _history(rng, person, case, now, rng.choice(MIX_HISTORY), MIX_SPAN)
        else:  # from a generator of their own: the same people and instants at every size
            history = _history(past_rng, person, case, now, history_size, lookback)
        out.append((reminder, person, case, history, now))
    return out


def _run_pass(policy: Policy, scenarios: list[Scenario]) -> None:
    for reminder, person, case, history, now in scenarios:
        decide(policy, reminder, person, case, history, now)


@dataclass
class Timing:
    """``decisions`` calls of ``decide`` in whole passes: decisions/s over every pass and in
    the best pass (wall clock), and the CPU time of a decision in the best pass (steadier
    than the rates on a shared machine)."""

    rate: float
    best_rate: float
    best_cpu_us: float
    decisions: int


def _timed(policy: Policy, scenarios: list[Scenario], decisions: int) -> Timing:
    """Time ``decisions`` calls (rounded up to whole passes) after one warm-up pass."""
    _run_pass(policy, scenarios)  # warm-up: imports, zone and window caches, branch paths
    passes = max(1, -(-decisions // len(scenarios)))
    walls, cpus = [], []
    for _ in range(passes):
        started, cpu = time.perf_counter(), time.process_time()
        _run_pass(policy, scenarios)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    done = passes * len(scenarios)
    count = len(scenarios)
    return Timing(done / sum(walls), count / min(walls), min(cpus) / count * 1e6, done)


def run(decisions: int, config_dir: Path = EXAMPLE_CONFIG) -> Section:
    """Time ``decisions`` calls of ``decide`` (rounded up to whole passes) on the mix, then a
    quarter as many at each of ``HISTORY_SIZES``."""
    section = Section("policy")
    policy = load_runtime(config_dir).policy
    scenarios = build_scenarios(min(SCENARIOS, max(decisions, 1)))

    # The verdict and reason mix (the timed passes repeat the same decisions).
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for reminder, person, case, history, now in scenarios:
        decision = decide(policy, reminder, person, case, history, now)
        verdicts[decision.verdict.value] += 1
        for reason in decision.reasons:
            reasons[reason.code] += 1

    mix = _timed(policy, scenarios, decisions)
    section.add("decisions/s", mix.rate, "1/s", f">= {TARGET_PER_S:,}")
    section.add("decisions/s (best pass)", mix.best_rate, "1/s")
    section.add("time per decision", 1e6 / mix.rate, "µs", decimals=1)
    section.add("CPU per decision (best pass)", mix.best_cpu_us, "µs", decimals=1)
    section.add("decisions timed", mix.decisions, "", "")
    shares = {v.value: verdicts[v.value] / len(scenarios) * 100 for v in Verdict}
    for verdict, share in shares.items():
        section.add(f"verdict {verdict}", share, "%", decimals=1)

    sized = max(SIZED_SCENARIOS, decisions // 4)
    cpu_us: dict[int, float] = {}
    for size in HISTORY_SIZES:
        cases = build_scenarios(
            min(SIZED_SCENARIOS, sized), history_size=size, lookback=policy.lookback
        )
        timing = _timed(policy, cases, sized)
        cpu_us[size] = timing.best_cpu_us
        target = f">= {TARGET_PER_S:,}" if size == TARGET_HISTORY else ""
        section.add(
            f"decisions/s, {size} past attempts (best pass)", timing.best_rate, "1/s", target
        )
        section.add(f"CPU per decision, {size} past attempts", timing.best_cpu_us, "µs", decimals=1)
    low, high = min(HISTORY_SIZES), max(HISTORY_SIZES)
    slope = (cpu_us[high] - cpu_us[low]) / (high - low)
    section.add("CPU added per past attempt", slope, "µs", decimals=2)

    section.notes.append(
        f"{len(scenarios):,} distinct scenarios, timed passes after one warm-up pass; "
        f"policy compiled from the example config (windows, limits, min gap, cooldown)"
    )
    top = ", ".join(f"{code} {n / len(scenarios) * 100:.1f}%" for code, n in reasons.most_common())
    section.notes.append(f"reasons in the mix (share of decisions naming each): {top}")
    section.notes.append(
        f"history sizes: the same mix with exactly that many attempts per person over the "
        f"policy's lookback ({policy.lookback.days} days), "
        f"{min(SIZED_SCENARIOS, sized):,} scenarios and {sized:,} timed decisions each; "
        f"best pass, as the machine may be shared; CPU time (process_time) is the steadier "
        f"figure when it is"
    )
    return section
