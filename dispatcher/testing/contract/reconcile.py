"""The check of ``reconcile``: asked about an attempt it really sent and one it never sent,
a channel answers with ``Reconciled`` values for those attempts only, raises nothing, never
says ``not_sent`` of what the provider has (that would send it twice), and — unless it
resolves by resending (``reconcile_resends``) — delivers nothing while it looks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dispatcher.channel import Channel, Message, Reconciled, UnknownAttempt
from dispatcher.model import ContactKind
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import error_text, fail_check
from dispatcher.testing.watch import Peer, watched_send


def unknown_attempt(message: Message, at: datetime, resends: bool) -> UnknownAttempt:
    """``message``'s attempt as the core hands it to ``reconcile``."""
    return UnknownAttempt(
        attempt_id=message.attempt_id,
        reminder_id=message.reminder_id,
        channel=message.channel,
        contact=message.contact,
        at=at,
        message=message if resends else None,
    )


class ReconcileChecks(ContractBase):
    """``reconcile`` tells sent from not sent, or says it does not know."""

    def test_reconcile_never_calls_a_sent_message_unsent(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        problems: list[str] = []

        async def scenario() -> None:
            channel = make_channel()
            await channel.open()
            try:
                await ask(channel)
            finally:
                await channel.close()

        async def ask(channel: Channel) -> None:
            resends = channel.reconcile_resends
            claimed = datetime.now(UTC) - timedelta(seconds=1)
            sent = make_message(channel.contact_kind)
            watched = await watched_send(channel, sent, peer, self.send_timeout)
            if watched.error is not None or watched.reached != 1:
                problems.append("a send to a working peer must deliver once, to ask about it")
                return
            never = make_message(channel.contact_kind)
            attempts = [
                unknown_attempt(sent, claimed, resends),
                unknown_attempt(never, claimed - timedelta(hours=3), resends),
            ]
            before = peer.requests
            try:
                answers = await asyncio.wait_for(channel.reconcile(attempts), self.send_timeout)
            except Exception as exc:
                problems.append(f"reconcile raised {error_text(exc)}: answer unknown instead")
                return
            asked = {a.attempt_id for a in attempts}
            if not set(answers) <= asked:
                problems.append("reconcile answered for attempts it was not asked about")
            if any(not isinstance(value, Reconciled) for value in answers.values()):
                problems.append("each answer must be a dispatcher.channel.Reconciled")
            if answers.get(sent.attempt_id) is Reconciled.NOT_SENT:
                problems.append(
                    "the attempt the provider has was called not_sent: the core would send it "
                    "again (answer sent, or unknown when the provider cannot tell)"
                )
            if not resends and peer.requests != before:
                problems.append(
                    f"reconcile delivered {peer.requests - before} times: it must only look "
                    "(or set reconcile_resends, for a provider that dedupes by attempt id)"
                )

        asyncio.run(scenario())
        if problems:
            fail_check(problems, "reconcile must never make the core send a message twice:")
