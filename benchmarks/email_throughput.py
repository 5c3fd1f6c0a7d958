"""Email throughput: the whole dispatcher against raw aiosmtplib, at one SMTP sink, in two
regimes.

- **instant peer (CPU-bound)**: aiosmtpd's own discarding handler
  (``python -m aiosmtpd -c aiosmtpd.handlers.Sink``) in a process of its own on loopback, so
  it answers at once and neither side shares its interpreter. Nothing waits on the network,
  so each side runs as fast as its own Python per message allows: the ratio compares CPU
  cost per message, and the dispatcher's (claim, policy, render, record) dominates.
- **at a provider latency**: the same, but the sink (``benchmarks.smtp_sink.DelayedSink``)
  answers DATA ``LATENCY_S`` later, as a relay does. Then both sides are bound by
  ``POOL`` connections / latency, and the ratio shows what the dispatcher's CPU still costs
  when the network sets the pace.

- **raw**: this process sends N messages with aiosmtplib over ``POOL`` persistent connections
  (one worker per connection, MAIL/RCPT/DATA each, the same message bytes the channel makes
  for an example reminder): what the SMTP client alone can do here.
- **dispatcher**: the real daemon (``dispatcher --config DIR run``, a subprocess) sends N due
  email reminders for N people through the ``email`` plugin with ``pool_size = POOL``: claim,
  policy, render (text + HTML, both locales), compose, SMTP, record. Timed from its
  ``dispatcher started`` log line until the store reports all N sent.

The ratio dispatcher / raw is the share of the SMTP client's throughput the whole pipeline
keeps (target ≥ 0.8). In both regimes ``POOL`` messages are in flight at most on each side:
the daemon's ``[dispatch] concurrency`` (32 in the example) is above ``pool_size``, so the
pool is its limit.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosmtplib
from dispatcher_plugins.email.compose import compose

from benchmarks import ZONES, Section, at_latency, latency_size
from benchmarks.e2e_outbox import (
    REPO,
    Deployment,
    daemon_rate,
    make_deployment,
)
from benchmarks.observe import sent_count
from benchmarks.stores import seed_planned
from dispatcher.channel import Message
from dispatcher.model import ContactKind
from dispatcher.store.api import CaseIn, NewReminder, PersonIn

POOL = 10  # connections on both sides: the concurrency the shared peers' figures were taken at
TARGET_RATIO = 0.8
SECRET = "benchmark-unsubscribe-secret"
SENDER = "Acme Lending <billing@acme.example>"
POLL_S = 0.1
# A relay's answer to DATA: loopback relays answer in a few ms, hosted ones (a provider's SMTP
# endpoint) in tens to hundreds; 20 ms is the near end, where the dispatcher's own CPU still
# shows the most.
LATENCY_S = 0.020
INSTANT = "instant peer (CPU-bound)"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_sink(port: int, delay: float = 0.0) -> subprocess.Popen[bytes]:
    """aiosmtpd's ``Sink``, or with ``delay`` the sink that answers DATA that much later."""
    handler = (
        ["benchmarks.smtp_sink.DelayedSink", str(delay)] if delay else ["aiosmtpd.handlers.Sink"]
    )
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", *handler, "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,  # where ``benchmarks`` imports from
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise RuntimeError("the SMTP sink did not start")


def _sample_bytes() -> bytes:
    message = Message(
        attempt_id="0123456789abcdef0123456789abcdef",
        reminder_id=1,
        case_id="C000001",
        person_id="P000001",
        channel="email",
        contact_kind=ContactKind.EMAIL,
        contact="p1@example.com",
        locale="en",
        template="overdue_email",
        subject="Acme Lending: payment of 1,234.50 USD is overdue",
        body="Dear Bench Person 1,\n\n" + "Our records show that a payment is overdue. " * 8,
        html="<p>Dear Bench Person 1,</p><p>" + "Our records show a payment is overdue. " * 8,
    )
    return compose(
        message,
        sender=SENDER,
        reply_to=None,
        id_domain="acme.example",
        unsubscribe_url="https://reminders.acme.example/email/unsubscribe/" + "x" * 80,
    )


async def _raw(port: int, count: int) -> float:
    """Messages per second with aiosmtplib alone over ``POOL`` persistent connections."""
    data = _sample_bytes()
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while remaining > 0:
            remaining -= 1
            await client.mail("billing@acme.example")
            await client.rcpt(f"p{remaining}@example.com")
            await client.data(data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(POOL)))
    return count / (time.perf_counter() - started)


def _email_channel_block(port: int) -> str:
    return (
        "[channels.email]\n"
        'plugin = "email"\n'
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        'tls = "none"\n'
        f'from = "{SENDER}"\n'
        f"pool_size = {POOL}\n"
        'public_url = "https://reminders.acme.example"\n'
        'unsubscribe_secret = "${EMAIL_UNSUBSCRIBE_SECRET}"\n'
    )


def _point_email_at(dep: Deployment, port: int) -> None:
    path = dep.config / "dispatcher.toml"
    text = path.read_text(encoding="utf-8")
    text, found = re.subn(
        r"^\[channels\.email\]\n(?:[^\[\n].*\n|\n)*",
        _email_channel_block(port) + "\n",
        text,
        flags=re.M,
    )
    if found != 1:
        raise RuntimeError("the example dispatcher.toml has no [channels.email] table")
    path.write_text(text, encoding="utf-8")


def _seed(dep: Deployment, count: int) -> None:
    now = datetime.now(UTC)
    people, cases, reminders = [], [], []
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        people.append(
            PersonIn(
                id=f"P{i:06d}",
                name=f"Bench Person {i}",
                locale="zh-CN" if zone == "Asia/Shanghai" else "en",
                timezone=zone,
                emails=(f"p{i}@example.com",),
            )
        )
        cases.append(
            CaseIn(
                id=f"C{i:06d}",
                person_id=f"P{i:06d}",
                amount=f"{100 + i % 900}.50",
                currency="USD",
                due_date=date.today() - timedelta(days=10),
                schedule="standard",
            )
        )
        reminders.append(
            NewReminder(
                case_id=f"C{i:06d}",
                person_id=f"P{i:06d}",
                schedule="standard",
                step="bench",
                channel="email",
                template="overdue_email",
                due_at=now - timedelta(seconds=60 + i % 3600),
            )
        )
    seed_planned(dep.url, people, cases, reminders, now)


def _dispatcher(dep: Deployment, count: int, timeout: float) -> float | None:
    """Reminders per second through the daemon, or None if it did not finish."""
    env = dict(os.environ, EMAIL_UNSUBSCRIBE_SECRET=SECRET)
    env.pop("DISPATCHER_PLUGINS", None)
    return daemon_rate(dep, count, env, lambda: sent_count(dep.url)[0] >= count, timeout)


def _measure(root: Path, count: int, delay: float) -> tuple[float, float | None, Deployment]:
    """Raw and dispatcher messages per second against one sink answering DATA after
    ``delay``; the deployment is made in ``root``."""
    port = _free_port()
    sink = _start_sink(port, delay)
    try:
        raw = asyncio.run(_raw(port, count))
        dep = make_deployment(root)
        _point_email_at(dep, port)
        _seed(dep, count)
        through = _dispatcher(dep, count, timeout=max(60.0, count / 50))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    return raw, through, dep


def _add_ratio(section: Section, name: str, raw: float, through: float | None) -> None:
    ratio = through / raw if through else None
    section.add(name, ratio, "", f">= {TARGET_RATIO}", decimals=2)


def _did_not_finish(section: Section, dep: Deployment) -> None:
    section.ok = False
    tail = dep.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    section.blocks.append((f"daemon log in {dep.root.name} (last lines)", tail))


def run(count: int, *, keep: bool = False) -> Section:
    section = Section("email")
    root = Path(tempfile.mkdtemp(prefix="dispatcher-bench-email-"))
    latency = at_latency(LATENCY_S)
    slow_count = latency_size(count, POOL, LATENCY_S)
    try:
        raw, through, dep = _measure(root / "instant", count, 0.0)
        section.add(f"raw aiosmtplib messages/s, {INSTANT}", raw, "1/s")
        section.add(f"dispatcher email reminders/s, {INSTANT}", through, "1/s")
        _add_ratio(section, f"dispatcher / raw, {INSTANT}", raw, through)
        if through is None:
            _did_not_finish(section, dep)
        raw, through, dep = _measure(root / "latency", slow_count, LATENCY_S)
        section.add(f"raw aiosmtplib messages/s at {latency} provider latency", raw, "1/s")
        section.add(f"dispatcher email reminders/s at {latency}", through, "1/s")
        _add_ratio(section, f"ratio at {latency}", raw, through)
        if through is None:
            _did_not_finish(section, dep)
        section.notes.append(
            f"{count:,} messages each way to one aiosmtpd Sink process on loopback; "
            f"{POOL} persistent connections on both sides (raw: {POOL} workers with "
            f"pre-built ~{len(_sample_bytes()):,}-byte messages; dispatcher: pool_size = "
            f"{POOL}, dispatch concurrency as in the example); en and zh-CN, text + HTML"
        )
        section.notes.append(
            f"instant peer: nothing waits on the network, so both sides are CPU-bound and the "
            f"ratio compares Python per message (the daemon claims, decides, renders and "
            f"records each one). At {latency}: {slow_count:,} messages each way to a sink "
            f"that answers DATA {latency} late, as a relay does; {POOL} in flight on both "
            f"sides (the daemon's dispatch concurrency is above its pool_size = {POOL}), so "
            f"the ceiling is {POOL / LATENCY_S:,.0f}/s for either"
        )
        if keep:
            section.notes.append(f"run directory kept: {root}")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return section
