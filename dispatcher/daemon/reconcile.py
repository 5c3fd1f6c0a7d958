"""Reconciliation: attempts whose outcome is unknown (a crash between hand-off and record) are
asked of their channel (``Channel.reconcile``), a page at a time, at start and every
``[dispatch] reconcile_interval``. What the channel says is recorded as an operator's
resolution would be: ``sent`` (the step is done), ``not_sent`` (decided again); ``unknown``
stays for ``dispatcher unknown resolve``.

A failing channel or store never stops the daemon: the round is logged once (not again while
it keeps failing) and tried again next round."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jinja2

from dispatcher.channel import Channel, Message, Reconciled, UnknownAttempt
from dispatcher.config.templates import TemplateNotFound
from dispatcher.daemon.jobs import failure_reason
from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.render import compose
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.model import CaseState, Decision, Verdict
from dispatcher.policy.contacts import choose_contact
from dispatcher.runtime import Runtime
from dispatcher.store.api import Claim
from dispatcher.store.unknown_api import Resolution, UnknownCursor, UnknownRow

log = logging.getLogger("dispatcher.daemon")

PAGE = 200  # attempts per store call and per call of a channel's ``reconcile``
RESOLVES = {Reconciled.SENT: Resolution.SENT, Reconciled.NOT_SENT: Resolution.NOT_SENT}


@dataclass
class Reconciler:
    """Rounds of reconciliation over the channels of the runtime in force."""

    store_thread: StoreThread
    runtime: Callable[[], Runtime]
    clock: Clock
    page: int = PAGE
    failing: set[str] = field(default_factory=set)  # channels whose last round failed

    async def run_periodically(self) -> None:
        """A round now, then one every ``reconcile_interval`` (read anew each time)."""
        while True:
            await self.round()
            interval = self.runtime().config.dispatcher.dispatch.reconcile_interval
            await asyncio.sleep(interval.total_seconds())

    async def round(self) -> dict[str, int]:
        """Reconcile every channel that can; returns how many attempts each resolved. Never
        raises (but for cancellation)."""
        resolved: dict[str, int] = {}
        runtime = self.runtime()
        for name, channel in runtime.channels.items():
            if not channel.reconciles():
                continue
            try:
                resolved[name] = await self.channel(runtime, name, channel)
            except Exception as exc:  # a plugin's or the store's: try again next round
                if name not in self.failing:
                    self.failing.add(name)
                    log.error(
                        "reconciliation failed; it is tried again next round",
                        extra={"fields": {"channel": name, "error": failure_reason(exc)}},
                    )
                continue
            if name in self.failing:
                self.failing.discard(name)
                log.info("reconciliation works again", extra={"fields": {"channel": name}})
        return resolved

    async def channel(self, runtime: Runtime, name: str, channel: Channel) -> int:
        """Every unknown attempt of ``name``, a page at a time; returns how many resolved."""
        store = self.store_thread.store
        after: UnknownCursor | None = None
        resolved = 0
        while True:
            rows = await self.store_thread.call(
                store.unknown_attempts, name, None, after, self.page
            )
            if not rows:
                break
            after = UnknownCursor(rows[-1].at, rows[-1].attempt_id)
            attempts = await self._attempts(runtime, channel, rows)
            answers = await channel.reconcile(attempts)
            ours = {row.attempt_id for row in rows}
            for answer, resolution in RESOLVES.items():
                ids = [aid for aid, said in answers.items() if said == answer and aid in ours]
                if ids:
                    done = await self.store_thread.call(
                        store.resolve_unknown,
                        ids,
                        resolution,
                        reason=f"the provider says {answer.value}",
                        source=f"reconcile:{name}",
                        now=self.clock(),
                    )
                    resolved += len(done)
            if len(rows) < self.page:
                break
        if resolved:
            log.info(
                "unknown attempts reconciled",
                extra={"fields": {"channel": name, "resolved": resolved}},
            )
        return resolved

    async def _attempts(
        self, runtime: Runtime, channel: Channel, rows: Sequence[UnknownRow]
    ) -> list[UnknownAttempt]:
        messages: dict[str, Message] = {}
        if channel.reconcile_resends:
            messages = await self._messages(runtime, channel, rows)
        return [
            UnknownAttempt(
                attempt_id=row.attempt_id,
                reminder_id=row.reminder_id,
                channel=row.channel,
                contact=row.contact,
                at=row.at,
                provider_id=row.provider_id,
                message=messages.get(row.attempt_id),
            )
            for row in rows
        ]

    async def _messages(
        self, runtime: Runtime, channel: Channel, rows: Sequence[UnknownRow]
    ) -> dict[str, Message]:
        """The messages of ``rows`` rendered again, for a channel that resends: only where the
        case is still open and under no Breathing Space moratorium, and the address is still
        the one the channel may use (an opt-out, a dead address, a payment since: no message,
        the attempt stays unknown)."""
        store = self.store_thread.store
        contacts = {row.attempt_id: row.contact for row in rows}
        contexts = await self.store_thread.call(store.resend_contexts, list(contacts))
        now = self.clock()
        out: dict[str, Message] = {}
        for ctx in contexts:
            space = ctx.case.breathing_space
            if ctx.case.state is not CaseState.OPEN or (space is not None and space.runs_at(now)):
                continue
            chosen = choose_contact(ctx.person, channel.name, channel.contact_kind).contact
            if chosen is None or chosen.value != contacts[ctx.attempt_id]:
                continue
            claim = Claim(
                reminder=ctx.reminder,
                person=ctx.person,
                case=ctx.case,
                decision=Decision(Verdict.SEND, now, contact=chosen),
                attempt_id=ctx.attempt_id,
                contact=chosen,
            )
            try:
                out[ctx.attempt_id] = compose(claim, runtime.config.templates)
            except (TemplateNotFound, jinja2.TemplateError):
                continue  # the template changed since: nothing to resend it with
        return out
