"""The store API's part for what a person chose (``Store`` inherits it): opt-outs of a
channel, by person or by an address a STOP reply names, consents, and the person's own wishes
(``store.opt_outs``, ``store.consents`` and ``store.wishes`` implement it in SQL)."""

from __future__ import annotations

import abc
from datetime import datetime

from dispatcher.model import ContactKind, Wishes
from dispatcher.store.inbound import InboundEvent


class ChoicesApi(abc.ABC):
    @abc.abstractmethod
    def opt_out(
        self,
        person_id: str,
        channel: str,
        contact: str | None,
        *,
        now: datetime,
        source: str,
        clear: bool = False,
    ) -> None:
        """Record (or with ``clear``, lift) an opt-out of ``channel`` for one address or all."""

    @abc.abstractmethod
    def consent(
        self,
        person_id: str,
        channel: str,
        contact: str | None,
        *,
        now: datetime,
        source: str,
        revoke: bool = False,
        detail: str | None = None,
    ) -> None:
        """Record (or with ``revoke``, end) consent to ``channel`` on one address or all;
        ``detail`` says what it rests on."""

    @abc.abstractmethod
    def set_wishes(self, person_id: str, wishes: Wishes, *, now: datetime, source: str) -> bool:
        """Put the person's ``wishes`` in force (all of them, replacing the ones before);
        False when they are in force already. LookupError for an unknown person."""

    @abc.abstractmethod
    def opt_out_contact(
        self,
        kind: ContactKind,
        value: str,
        channel: str,
        *,
        now: datetime,
        source: str,
        clear: bool = False,
        event: InboundEvent | None = None,
    ) -> list[str]:
        """Record (or with ``clear``, lift) an opt-out of ``channel`` for the address
        ``value`` of every person who has it (a STOP reply names a number, not a person).
        Returns the ids of those people. With ``event`` (the provider's message), nothing
        changes when that message was seen before or is older than the last opt-out or
        opt-in applied to the address on ``channel`` (``store/inbound.py``)."""
