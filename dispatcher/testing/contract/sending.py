"""The check that a send to a working peer delivers exactly once and returns a
``SendResult``."""

from __future__ import annotations

from collections.abc import Callable

from dispatcher.channel import Channel, Message, SendResult
from dispatcher.model import ContactKind, Outcome
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import error_text, fail_check
from dispatcher.testing.watch import Peer, Watched

SENT_OUTCOMES = (Outcome.PLACED, Outcome.DELIVERED, Outcome.CONVERSATION)


class SendingChecks(ContractBase):
    """A send to a working peer delivers once and returns a ``SendResult``."""

    def test_send_returns_a_send_result(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        sent = self._run(make_channel, make_message, peer, None)
        problems = self._unsent(sent, "a working peer")
        if not problems:
            result = sent.result
            if not isinstance(result, SendResult):
                problems.append(
                    f"send returned {result!r}: return dispatcher.channel.SendResult("
                    "provider_id=…) and raise TransientError or PermanentError on failure"
                )
            else:
                if result.outcome not in SENT_OUTCOMES:
                    problems.append(
                        f"SendResult.outcome is {result.outcome!r}: use placed, delivered or "
                        "conversation; failures are raised, never returned"
                    )
                if result.provider_id is not None and (
                    not isinstance(result.provider_id, str) or not result.provider_id
                ):
                    problems.append(
                        f"SendResult.provider_id is {result.provider_id!r}: the provider's id "
                        "for the message as a non-empty string, or None if it gives none"
                    )
        if sent.reached != 1:
            problems.append(
                f"{sent.reached} deliveries reached the peer during one successful send: a "
                "send delivers exactly once (and the `peer` fixture must count deliveries "
                "in `requests`)"
            )
        if problems:
            fail_check(
                problems, "a send to a working peer must deliver once and return a SendResult:"
            )

    def _unsent(self, sent: Watched, name: str) -> list[str]:
        if sent.hung:
            return [
                f"{name}: send did not return within {self.send_timeout:g}s: give every "
                "network call a timeout"
            ]
        if sent.error is not None:
            return [f"{name}: send raised {error_text(sent.error)}"]
        return []
