"""An SMTP sink that answers DATA only after a delay, as a real relay does (it queues the
message, often to disk, and may scan it before its ``250``); it discards what it gets.

``python -m aiosmtpd -n -c benchmarks.smtp_sink.DelayedSink SECONDS -l 127.0.0.1:PORT``, run
from the repository root. aiosmtpd serves every session on one event loop, so sessions wait
for their answers concurrently, as on a relay.
"""

from __future__ import annotations

import asyncio
from argparse import ArgumentParser
from typing import Any


class DelayedSink:
    """Accepts every message ``delay`` seconds after its DATA ends."""

    def __init__(self, delay: float) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, not {delay}")
        self.delay = delay

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> DelayedSink:
        if len(args) != 1:
            parser.error("DelayedSink takes one argument: the delay before DATA's answer, in s")
        try:
            return cls(float(args[0]))
        except ValueError as exc:
            parser.error(str(exc))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return "250 OK"
