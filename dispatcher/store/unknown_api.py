"""The part of the store API about attempts whose outcome is unknown: listed a page at a
time, counted by channel, resolved by an operator's decision or a channel's reconciliation."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatcher.model import Case, Person, Reminder


class Resolution(enum.StrEnum):
    """What to make of an unknown attempt. ``sent``: the provider had it (the step is done,
    it counts toward limits). ``not_sent``: nobody was contacted (the reminder is decided
    again, no try spent). ``resend``: unknown still, sent again all the same (the reminder is
    decided again; the attempt keeps counting toward limits)."""

    SENT = "sent"
    NOT_SENT = "not_sent"
    RESEND = "resend"


@dataclass(frozen=True)
class UnknownRow:
    """One attempt whose outcome is unknown, as listed."""

    attempt_id: str
    reminder_id: int | None
    case_id: str
    person_id: str
    channel: str
    contact_kind: str
    contact: str
    at: datetime
    provider_id: str | None
    detail: str | None


@dataclass(frozen=True)
class UnknownCursor:
    """Where a listing stands: the last attempt of its last page, in (at, id) order."""

    at: datetime
    attempt_id: str


@dataclass(frozen=True)
class ResendContext:
    """What rendering an unknown attempt's message again needs."""

    attempt_id: str
    reminder: Reminder
    person: Person
    case: Case


class UnknownAttemptsApi(abc.ABC):
    """Unknown attempts: what ``dispatcher unknown``, ``POST /v1/attempts:resolve`` and the
    daemon's reconciliation use."""

    @abc.abstractmethod
    def unknown_attempts(
        self,
        channel: str | None,
        since: datetime | None,
        after: UnknownCursor | None,
        limit: int,
    ) -> list[UnknownRow]:
        """Up to ``limit`` attempts whose outcome is unknown, oldest first (by claim instant,
        then id), after ``after``, optionally only on ``channel`` and claimed at or after
        ``since`` (keyset pagination, by the outcome index)."""

    @abc.abstractmethod
    def unknown_counts(self) -> dict[str, int]:
        """Every attempt whose outcome is unknown, counted by channel (exact, from the
        tallies triggers keep)."""

    @abc.abstractmethod
    def resend_contexts(self, attempt_ids: Sequence[str]) -> list[ResendContext]:
        """The reminder, person and case of each of ``attempt_ids`` that is still unknown."""

    @abc.abstractmethod
    def resolve_unknown(
        self,
        attempt_ids: Sequence[str] | None,
        resolution: Resolution,
        *,
        reason: str,
        source: str,
        now: datetime,
        channel: str | None = None,
        limit: int = 500,
    ) -> list[str]:
        """Resolve, in one transaction, the given attempts that are still unknown (None: the
        oldest ``limit`` unknown ones, on ``channel`` if given); return the ids resolved. An
        attempt no longer unknown is left alone, so resolving again changes nothing. Each
        resolution is recorded for audit as a decision ``resolved`` of its reminder, with
        ``source`` and ``reason``; a reminder still ``unknown`` follows (``Resolution``)."""
