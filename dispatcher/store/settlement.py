"""What a provider's delivery report does to an attempt and its reminder: what changed
(``Settled``), and how a delivery that failed for a temporary reason is tried again
(``Retry``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from dispatcher.config.dispatcher_file import RetryRule


@dataclass(frozen=True)
class Settled:
    """What ``settle_attempt`` did. True when anything changed; ``person_id`` is whose attempt
    it was (None when no attempt matched); ``retried`` when its reminder went back to pending
    for another try."""

    changed: bool
    person_id: str | None = None
    retried: bool = False

    def __bool__(self) -> bool:
        return self.changed


@dataclass(frozen=True)
class Retry:
    """How a delivery that failed for a temporary reason is tried again: by the long retries
    of its reminder's channel (``channels``), else after ``after`` × ``growth`` per try
    already made, until ``max_tries`` tries or once those waits add up to ``give_up_after``:
    the rule a refused send follows."""

    after: timedelta
    max_tries: int
    growth: float = 2.0
    give_up_after: timedelta | None = None
    channels: Mapping[str, RetryRule] = field(default_factory=dict)

    def of(self, channel: str) -> RetryRule:
        """The rule for a reminder of ``channel``."""
        own = self.channels.get(channel)
        if own is not None:
            return own
        return RetryRule(
            after=self.after,
            growth=self.growth,
            max_tries=self.max_tries,
            give_up_after=self.give_up_after,
        )
