"""The store API's part for calls' scripts (``Store`` inherits it): what a placed call will
say once detection has decided who answered, kept with its attempt so that whichever node
Twilio's verdict reaches can answer it (``store.call_scripts`` implements it in SQL)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CallScript:
    """``person``: the TwiML speaking a call's template; ``machine``: its limited-content
    voicemail's. Personal data, kept only until ``expires_at``."""

    person: str
    machine: str
    expires_at: datetime


class CallScripts(abc.ABC):
    """Calls' scripts by attempt id."""

    @abc.abstractmethod
    def keep_call_script(self, attempt_id: str, script: CallScript, now: datetime) -> None:
        """Keep what the call of ``attempt_id`` will say; remove those expired by ``now``."""

    @abc.abstractmethod
    def take_call_script(self, attempt_id: str, now: datetime) -> CallScript | None:
        """The unexpired script of ``attempt_id``, removed as it is read, so one verdict (on
        one node) gets it; None when taken, forgotten, expired or never kept."""

    @abc.abstractmethod
    def forget_call_script(self, attempt_id: str) -> bool:
        """Remove the script of ``attempt_id`` (its call ended or was never placed); returns
        whether there was one."""
