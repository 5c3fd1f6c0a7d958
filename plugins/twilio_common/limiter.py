"""One throughput limiter per sender (a From number or a Messaging Service) for the whole
process: every channel and every concurrent send using that sender shares it.

Twilio queues what a sender is sent beyond its rate (1 message per second for a long code,
more for toll-free and short codes) and fails it after hours in the queue, when it may land
in the person's quiet hours: the dispatcher paces itself instead. This is pacing, not retrying:
a send waits for its slot, then makes its one request.
"""

from __future__ import annotations

import asyncio
import time


class SenderLimiter:
    """A token bucket by virtual scheduling: each send takes the next free slot, ``1/rate``
    after the previous one, and up to ``burst`` sends may go at once after a quiet spell.
    Single event loop, no lock needed: reserving a slot never awaits."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._next = 0.0  # monotonic instant of the next free slot

    def reserve(self) -> float:
        """Take a slot; return how long to wait for it (seconds)."""
        now = time.monotonic()
        interval = 1.0 / self.rate
        # After a quiet spell up to `burst` slots are free at once, never more.
        start = max(self._next, now - (self.burst - 1) * interval)
        self._next = start + interval
        return max(0.0, start - now)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


class SenderLimiters:
    """The limiters of a process, by sender. Each open channel declares its rate; a sender's
    rate is the lowest of its channels' (the provider's cap is the sender's, not a channel's),
    and follows a reload that changes it."""

    def __init__(self) -> None:
        self._limiters: dict[str, SenderLimiter] = {}
        self._rates: dict[str, dict[str, float]] = {}

    def join(self, sender: str, channel: str, rate: float) -> SenderLimiter:
        rates = self._rates.setdefault(sender, {})
        rates[channel] = rate
        limiter = self._limiters.setdefault(sender, SenderLimiter(rate))
        self._set(limiter, min(rates.values()))
        return limiter

    def leave(self, sender: str, channel: str) -> None:
        rates = self._rates.get(sender, {})
        rates.pop(channel, None)
        if rates:
            self._set(self._limiters[sender], min(rates.values()))

    @staticmethod
    def _set(limiter: SenderLimiter, rate: float) -> None:
        limiter.rate = rate
        limiter.burst = max(1, int(rate))  # at most one second's worth at once


# Every channel of the process paces through this one registry.
LIMITERS = SenderLimiters()
