"""The store API's part for the operator console (``Store`` inherits it): what happened over
the last hours by channel, how each channel's last attempts went, and which nodes hold
claims now (``store.activity`` implements it in SQL)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class HourCount:
    """How many ``kind`` (``send``, ``defer``, ``suppress``) on ``channel`` in the hour that
    starts at ``hour`` (UTC)."""

    hour: datetime
    channel: str
    kind: str
    count: int


@dataclass(frozen=True)
class ChannelRecent:
    """A channel's attempts since some instant: the last one that reached someone, the last
    one that failed (temporarily or with unknown outcome) and its error code."""

    channel: str
    last_success: datetime | None
    last_failure: datetime | None
    failure_code: str | None


@dataclass(frozen=True)
class NodeClaims:
    """A node (``claimed_by``) holding ``claims`` reminders, its newest claim renewed at
    ``renewed_at``."""

    node: str
    claims: int
    renewed_at: datetime | None


class ConsoleReads(abc.ABC):
    """Reads for the console's overview (on the daemon's reader)."""

    @abc.abstractmethod
    def activity(self, since: datetime) -> list[HourCount]:
        """Attempts made (sends: any outcome but ``released``) by the hour they were claimed,
        and deferral and suppression decisions by the hour they were made, per channel,
        from ``since`` on; nonzero counts only."""

    @abc.abstractmethod
    def channel_recent(self, since: datetime) -> list[ChannelRecent]:
        """For each channel with an attempt since ``since``: its last success and failure."""

    @abc.abstractmethod
    def node_claims(self) -> list[NodeClaims]:
        """The nodes that hold claims now, with how many and their latest renewal."""
