"""The check that ``open`` and ``close`` may be repeated, as the daemon may repeat them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dispatcher.channel import Channel, Message
from dispatcher.model import ContactKind
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.report import error_text, fail_check
from dispatcher.testing.watch import Peer, watched_send


class LifecycleChecks(ContractBase):
    """``open`` and ``close`` are safe to repeat."""

    def test_open_and_close_are_idempotent(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
    ) -> None:
        problems: list[str] = []

        async def twice() -> None:
            channel = make_channel()
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("close before open", channel.close),
                ("first open", channel.open),
                ("second open", channel.open),
            ]
            for step, call in steps:
                try:
                    await call()
                except Exception as exc:
                    problems.append(f"{step} raised {error_text(exc)}: it must be safe to repeat")
                    return
            sent = await watched_send(
                channel, make_message(channel.contact_kind), peer, self.send_timeout
            )
            if sent.error is not None or sent.hung or sent.reached != 1:
                problems.append(
                    "after open() twice, one send must deliver once: "
                    + (error_text(sent.error) if sent.error else f"{sent.reached} deliveries")
                )
            for step in ("first close", "second close"):
                try:
                    await channel.close()
                except Exception as exc:
                    problems.append(f"{step} raised {error_text(exc)}: it must be safe to repeat")
                    return

        asyncio.run(twice())
        if problems:
            fail_check(
                problems, "open() and close() must be idempotent (the daemon may repeat them):"
            )
