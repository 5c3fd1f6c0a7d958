"""SIGKILLs during an email burst: how many attempts each kill leaves ``unknown``, against the
messages really handed to the SMTP server at that instant.

The real daemon (``dispatcher --config DIR run``, a subprocess) sends due email reminders with
the example's ``[dispatch] concurrency`` (32) through the ``email`` plugin with
``pool_size = 4``, to an aiosmtpd server in a thread of this process that answers DATA
``DATA_DELAY_S`` late and counts, per address, what it saw. Each run is killed (SIGKILL) at a
random moment once it sends; the attempts it left ``sending`` are the ones the next start
turns ``unknown``. A last clean run sends the rest.

Per kill: the unknowns; the messages in flight at the server when the daemon died (RCPT
accepted before it was dead, DATA not answered before the SIGKILL); and the strict comparison
of the two: each unknown beyond those in flight is either one the server had answered 250
before the kill (sent, its outcome not yet durable: its write waited for or under way) or one
the server never saw (confirmed, MAIL or RCPT not yet at the server). A claim is confirmed only
once it holds a pool connection, the connection comes back only once the send's outcome is
written, and an outcome that holds a connection is written at once, so the unknowns are at most
``POOL`` and, but for those two short windows, at most the messages in flight at the server.
Over the whole run: lost (a reminder neither sent nor unknown, or recorded sent without
reaching the server) and duplicates (a message the server accepted twice).

``python -m benchmarks --only kills``; the suite runs the same with a few kills
(tests/daemon/test_crash.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from benchmarks import Section
from benchmarks.e2e_outbox import DISPATCHER, Deployment, make_deployment
from benchmarks.stores import seed_planned
from dispatcher.store import open_store
from dispatcher.store import schema as t
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

POOL = 4
DATA_DELAY_S = 0.1
KILLS = 50
PEOPLE = 1500
SECRET = "kills-unsubscribe-secret"
RUN_TIMEOUT_S = 60.0


class CountingServer:
    """An SMTP server on loopback (aiosmtpd, in a thread) that answers DATA ``delay`` late and
    notes, per address, when it accepted RCPT (in which ``generation``: one per daemon run) and
    when it answered DATA 250, and counts what it accepted."""

    def __init__(self, port: int, delay: float) -> None:
        self.port = port
        self.delay = delay
        self.generation = 0  # one per daemon run: a killed run's sessions are not in flight
        self._lock = threading.Lock()
        self._rcpt_at: dict[str, tuple[int, float]] = {}  # address → (generation, monotonic)
        self._answered_at: dict[str, float] = {}  # address → its first DATA answer (monotonic)
        self._in_data = 0  # DATA handlers not yet answered
        self._accepted: Counter[str] = Counter()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    def __enter__(self) -> CountingServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            self._rcpt_at[address] = (self.generation, time.monotonic())
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._in_data += 1
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self._lock:
                self._in_data -= 1
                for address in envelope.rcpt_tos:
                    self._accepted[address] += 1
                    self._answered_at.setdefault(address, time.monotonic())
        return "250 OK"

    def at_kill(self, signalled: float, dead: float) -> tuple[set[str], set[str]]:
        """For a daemon sent SIGKILL at ``signalled`` and found dead at ``dead`` (monotonic):
        the messages in flight when it died (RCPT accepted in this generation before it was
        dead, DATA not answered before the signal) and those answered before the signal."""
        with self._lock:
            answered = {a for a, at in self._answered_at.items() if at < signalled}
            in_flight = {
                a
                for a, (generation, at) in self._rcpt_at.items()
                if generation == self.generation and at <= dead and a not in answered
            }
        return in_flight, answered

    def accepted(self) -> Counter[str]:
        with self._lock:
            return Counter(self._accepted)

    def seen(self) -> set[str]:
        with self._lock:
            return set(self._rcpt_at)

    def answering(self) -> bool:
        """Whether a DATA answer is still pending (of a killed run, say)."""
        with self._lock:
            return self._in_data > 0


@dataclass
class Kill:
    """One SIGKILL's figures."""

    unknowns: int
    in_flight: int  # at the server when the daemon died
    accepted: int  # unknowns whose message the server accepted (before the kill or after)
    unseen: int  # unknowns the server never saw
    answered: int = 0  # unknowns the server had answered 250 before the SIGKILL
    unknown_in_flight: int = 0  # unknowns in flight at the server when the daemon died

    @property
    def beyond_in_flight(self) -> int:
        """Unknowns beyond the messages in flight at the server at the kill (the strict
        comparison): each one answered before the kill or never seen by the server."""
        return max(0, self.unknowns - self.in_flight)


@dataclass
class Burst:
    """The whole run's figures."""

    kills: list[Kill] = field(default_factory=list)
    lost: int = 0
    duplicates: int = 0
    people: int = 0
    sent: int = 0
    unknown: int = 0
    states: Counter[str] = field(default_factory=Counter)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _point_email_at(dep: Deployment, port: int) -> None:
    """The email channel on the SMTP server, with the example's commented pool size."""
    path = dep.config / "dispatcher.toml"
    text = path.read_text(encoding="utf-8")
    block = (
        "[channels.email]\n"
        'plugin = "email"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        'tls = "none"\n'
        'from = "Acme Lending <billing@acme.example>"\n'
        f"pool_size = {POOL}\n"
        'public_url = "https://reminders.acme.example"\n'
        'unsubscribe_secret = "${EMAIL_UNSUBSCRIBE_SECRET}"\n\n'
    )
    text, found = re.subn(r"^\[channels\.email\]\n(?:[^\[\n].*\n|\n)*", block, text, flags=re.M)
    if found != 1 or not re.search(r"^concurrency = 32$", text, flags=re.M):
        raise RuntimeError("the example dispatcher.toml changed: no email table or concurrency")
    path.write_text(text, encoding="utf-8")


def seed_email(url: str, count: int) -> None:
    """``count`` people (P0…, in UTC, at p0@example.com…), each with one email reminder
    due now, in the store at ``url``."""
    now = datetime.now(UTC)
    people = [
        PersonIn(
            id=f"P{i}",
            name=f"Person {i}",
            locale="en",
            timezone="UTC",
            emails=(f"p{i}@example.com",),
        )
        for i in range(count)
    ]
    cases = [
        CaseIn(
            id=f"C{i}",
            person_id=f"P{i}",
            amount="100.00",
            currency="USD",
            due_date=date.today() - timedelta(days=10),
            schedule="standard",
        )
        for i in range(count)
    ]
    reminders = [
        NewReminder(
            case_id=f"C{i}",
            person_id=f"P{i}",
            schedule="standard",
            step="burst",
            channel="email",
            template="overdue_email",
            due_at=now - timedelta(minutes=1),
        )
        for i in range(count)
    ]
    seed_planned(url, people, cases, reminders, now)


def _rows(dep: Deployment) -> tuple[dict[str, str], dict[str, str]]:
    """Each reminder's state and each attempt's outcome, by contact address (one each)."""
    store = open_store(dep.url)
    try:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            reminders = conn.execute(select(t.reminders.c.person_id, t.reminders.c.state)).all()
            attempts = conn.execute(select(t.attempts.c.contact, t.attempts.c.outcome)).all()
    finally:
        store.close()
    states = {f"p{row.person_id[1:]}@example.com": row.state for row in reminders}
    outcomes: dict[str, str] = {}
    for row in attempts:
        if row.outcome not in ("released",):
            outcomes[row.contact] = row.outcome
    return states, outcomes


def _settled(states: dict[str, str]) -> bool:
    """Whether every reminder is done with: none waits, none is claimed."""
    return not ({"pending", "claimed"} & set(states.values()))


def _start(dep: Deployment, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with dep.log.open("a", encoding="utf-8") as log:
        return subprocess.Popen(
            [str(DISPATCHER), "--config", str(dep.config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=dep.root,
            env=env,
        )


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:g} s")
        time.sleep(0.01)


def _kill_once(
    dep: Deployment, server: CountingServer, env: dict[str, str], rng: random.Random
) -> Kill:
    """Start the daemon, kill it at a random moment once it sends, and count."""
    server.generation += 1
    before = sum(server.accepted().values())
    process = _start(dep, env)
    try:
        _wait(
            lambda: sum(server.accepted().values()) > before or process.poll() is not None,
            RUN_TIMEOUT_S,
            "the daemon did not send",
        )
        time.sleep(rng.uniform(0.05, 0.5))  # a random instant of the burst, not a wait
        signalled = time.monotonic()
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    # The daemon died between the signal and now: what it had at the server then.
    in_flight, answered = server.at_kill(signalled, time.monotonic())
    # Messages whose DATA the server had when the daemon died are still answered.
    _wait(lambda: not server.answering(), RUN_TIMEOUT_S, "DATA answers still pending")
    _, outcomes = _rows(dep)
    sending = {address for address, outcome in outcomes.items() if outcome == "sending"}
    accepted, seen = server.accepted(), server.seen()
    return Kill(
        unknowns=len(sending),
        in_flight=len(in_flight),
        accepted=sum(1 for a in sending if accepted[a]),
        unseen=len(sending - seen),
        answered=len(sending & answered),
        unknown_in_flight=len(sending & in_flight),
    )


def _finish(dep: Deployment, env: dict[str, str]) -> None:
    """A clean run that sends what is left, then stops."""
    process = _start(dep, env)
    try:
        _wait(
            lambda: _settled(_rows(dep)[0]) or process.poll() is not None,
            RUN_TIMEOUT_S * 5,
            "the last run did not send everything",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def burst(root: Path, kills: int, people: int, seed: int = 20261202) -> Burst:
    """``kills`` SIGKILLs during an email burst to ``people`` people (enough that the burst
    never ends before the last kill), then a clean run; the figures."""
    rng = random.Random(seed)
    port = _free_port()
    dep = make_deployment(root)
    _point_email_at(dep, port)
    seed_email(dep.url, people)
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "DISPATCHER_PLUGINS")}
    env["EMAIL_UNSUBSCRIBE_SECRET"] = SECRET
    result = Burst(people=people)
    with CountingServer(port, DATA_DELAY_S) as server:
        for _ in range(kills):
            result.kills.append(_kill_once(dep, server, env, rng))
        _finish(dep, env)
        accepted = server.accepted()
    states, _ = _rows(dep)
    result.states = Counter(states.values())
    result.sent = result.states["sent"]
    result.unknown = sum(1 for s in states.values() if s == "unknown")
    result.duplicates = sum(1 for n in accepted.values() if n > 1)
    for address, state in states.items():
        if state == "sent":
            result.lost += accepted[address] != 1
        elif state != "unknown":
            result.lost += 1  # neither sent nor unknown: never went out
    return result


def run(kills: int = KILLS, *, keep: bool = False) -> Section:
    section = Section("kills")
    root = Path(tempfile.mkdtemp(prefix="dispatcher-bench-kills-"))
    try:
        figures = burst(root, kills, PEOPLE)
        unknowns = [k.unknowns for k in figures.kills]
        in_flight = [k.in_flight for k in figures.kills]
        section.add("SIGKILLs", len(figures.kills), "")
        section.add("unknowns per kill, mean", sum(unknowns) / len(unknowns), "", "", 2)
        section.add("unknowns per kill, max", max(unknowns), "", f"<= {POOL}")
        section.add(
            "in flight at the server at the kill, mean", sum(in_flight) / len(in_flight), "", "", 2
        )
        beyond = [k for k in figures.kills if k.beyond_in_flight]
        section.add(
            "kills leaving more unknowns than were in flight at the server", len(beyond), ""
        )
        section.add(
            "unknowns beyond those in flight at the server, max per kill",
            max(k.beyond_in_flight for k in figures.kills),
            "",
        )
        section.add(
            "unknowns answered 250 before the kill (outcome not yet durable), total",
            sum(k.answered for k in figures.kills),
            "",
        )
        section.add(
            "unknowns not accepted by the server, max per kill",
            max(k.unknowns - k.accepted for k in figures.kills),
            "",
            f"<= {POOL}",
        )
        section.add(
            "unknowns the server never saw, total", sum(k.unseen for k in figures.kills), ""
        )
        section.add("lost", figures.lost, "", "0")
        section.add("duplicates", figures.duplicates, "", "0")
        section.notes.append(
            f"{figures.people:,} email reminders, concurrency 32, pool_size {POOL}, DATA "
            f"answered {DATA_DELAY_S * 1000:.0f} ms late; {figures.sent:,} sent, "
            f"{figures.unknown:,} unknown at the end"
        )
        section.blocks.append(
            (
                "per kill: unknowns / in flight at the server at the kill / unknowns answered "
                "250 before the kill / never seen (a * marks unknowns > in flight)",
                [
                    " ".join(
                        f"{k.unknowns}/{k.in_flight}/{k.answered}/{k.unseen}"
                        + ("*" if k.beyond_in_flight else "")
                        for k in row
                    )
                    for row in (figures.kills[i : i + 10] for i in range(0, len(figures.kills), 10))
                ],
            )
        )
        if keep:
            section.notes.append(f"run directory kept: {root}")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return section
