"""A person's past attempts as the rules over them read them: sorted by time once per decision.

A person may have dozens of attempts in the lookback, and every rule over past attempts (each
rolling limit, daily cap, the minimum gap, the cooldown) is judged again in each round of the
search for an allowed instant. Sorted once, each rule finds the stretch its period covers by
bisection and looks only at the attempts in it, instead of scanning the whole history each
time. Attempts too old for any of the channel's rules to see are left out at the start.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from dispatcher.model import Attempt

_AT = attrgetter("at")


class PastAttempts(NamedTuple):  # a tuple: built once per decision, so built cheaply
    """Attempts in time order (``times[i]`` is ``attempts[i].at``)."""

    attempts: Sequence[Attempt]
    times: Sequence[datetime]

    def after(self, instant: datetime) -> Sequence[Attempt]:
        """The attempts strictly after ``instant``."""
        return self.attempts[bisect_right(self.times, instant) :]

    def count_after(self, instant: datetime) -> int:
        """How many attempts lie strictly after ``instant``."""
        return len(self.times) - bisect_right(self.times, instant)

    def between(self, start: datetime, end: datetime) -> Sequence[Attempt]:
        """The attempts at or after ``start`` and before ``end``."""
        times = self.times
        return self.attempts[bisect_left(times, start) : bisect_left(times, end)]


def past_attempts(
    history: Sequence[Attempt] | PastAttempts, since: datetime | None = None
) -> PastAttempts:
    """``history`` in time order, without the attempts at or before ``since`` (when given);
    a ``PastAttempts`` is returned as it is."""
    if isinstance(history, PastAttempts):
        return history
    recent = history if since is None else [a for a in history if a.at > since]
    ordered = sorted(recent, key=_AT)
    return PastAttempts(ordered, [a.at for a in ordered])
