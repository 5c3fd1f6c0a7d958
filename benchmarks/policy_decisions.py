"""Policy decisions per second: ``dispatcher.policy.decide`` on the example config's policy.

The policy is compiled exactly as the daemon compiles it (``load_runtime(config/)``). The
inputs are a fixed, seeded mix meant to look like a real queue: people in nine time zones (a
few without one, so the fallback zone applies), every channel, mostly open cases with some
paused, disputed, ceased or paid, a few opt-outs and dead addresses, histories of 0–10
attempts over the last week (some conversations), and instants spread over a whole week so
that windows are open for some and closed for others. One warm-up pass over every scenario
(it also counts the verdicts), then timed passes until the requested number of decisions.
Single process, ``time.perf_counter``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
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


def _history(
    rng: random.Random, person: Person, case: Case, now: datetime, contact: str
) -> tuple[Attempt, ...]:
    count = rng.choice((0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10))
    attempts = []
    for i in range(count):
        channel = _pick(rng, CHANNELS)
        outcome = _pick(rng, OUTCOMES)
        attempts.append(
            Attempt(
                id=f"A{case.id}-{i}",
                reminder_id=None,
                person_id=person.id,
                # Most attempts were about this case; some about another debt of the person.
                case_id=case.id if rng.random() < 0.8 else f"{case.id}-other",
                channel=channel,
                contact=contact,
                at=now - timedelta(seconds=rng.randint(60, 7 * 86400)),
                outcome=outcome,
                counted=outcome is not Outcome.FAILED_TRANSIENT or rng.random() < 0.5,
            )
        )
    return tuple(attempts)


def build_scenarios(count: int, seed: int = SEED) -> list[Scenario]:
    rng = random.Random(seed)
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
        history = _history(rng, person, case, now, person.contacts[0].value)
        out.append((reminder, person, case, history, now))
    return out


def _run_pass(policy: Policy, scenarios: list[Scenario]) -> None:
    for reminder, person, case, history, now in scenarios:
        decide(policy, reminder, person, case, history, now)


def run(decisions: int, config_dir: Path = EXAMPLE_CONFIG) -> Section:
    """Time ``decisions`` calls of ``decide`` (rounded up to whole passes)."""
    section = Section("policy")
    policy = load_runtime(config_dir).policy
    scenarios = build_scenarios(min(SCENARIOS, max(decisions, 1)))

    # Warm-up: imports, zone and window caches, branch paths; and the verdict mix.
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for reminder, person, case, history, now in scenarios:
        decision = decide(policy, reminder, person, case, history, now)
        verdicts[decision.verdict.value] += 1
        for reason in decision.reasons:
            reasons[reason.code] += 1

    passes = max(1, -(-decisions // len(scenarios)))
    pass_times = []
    for _ in range(passes):
        started = time.perf_counter()
        _run_pass(policy, scenarios)
        pass_times.append(time.perf_counter() - started)
    total = sum(pass_times)
    done = passes * len(scenarios)
    rate = done / total
    best = len(scenarios) / min(pass_times)

    section.add("decisions/s", rate, "1/s", f">= {TARGET_PER_S:,}")
    section.add("decisions/s (best pass)", best, "1/s")
    section.add("time per decision", total / done * 1e6, "µs", decimals=1)
    section.add("decisions timed", done, "", "")
    shares = {v.value: verdicts[v.value] / len(scenarios) * 100 for v in Verdict}
    for verdict, share in shares.items():
        section.add(f"verdict {verdict}", share, "%", decimals=1)
    section.notes.append(
        f"{len(scenarios):,} distinct scenarios, {passes} timed pass(es) after one warm-up pass; "
        f"policy compiled from the example config (windows, limits, min gap, cooldown)"
    )
    top = ", ".join(f"{code} {n / len(scenarios) * 100:.1f}%" for code, n in reasons.most_common())
    section.notes.append(f"reasons in the mix (share of decisions naming each): {top}")
    return section
