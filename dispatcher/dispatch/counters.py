"""The dispatch counters: what this process claimed, decided, sent and failed since it
started (the daemon's status line and its stop log read them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatcher.model import ReminderState
from dispatcher.store.api import SendRecord


@dataclass
class Counters:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    rechecked: int = 0  # given back unsent: the case or person changed after the claim
    last_send: datetime | None = None

    def count(self, record: SendRecord) -> None:
        """Count a finished attempt by the state it leaves its reminder in: sent (or
        delivered), failed for good, of unknown outcome; one back in the queue counts as
        none of these."""
        state = record.reminder_state
        if state in (ReminderState.SENT, ReminderState.DELIVERED):
            self.sent += 1
            self.last_send = record.finished_at
        elif state is ReminderState.FAILED:
            self.failed += 1
        elif state is ReminderState.UNKNOWN:
            self.unknown += 1
