"""The channel contract: what a plugin implements to reach people one way.

A channel only sends and classifies errors. It never sleeps for a retry, never retries on its
own and never checks policy: the core does all three, so a rule written once holds for every
channel.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from dispatcher.config.durations import Duration
from dispatcher.model import ContactKind, Outcome


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message for one attempt. ``contact`` is the full address: a channel may
    send to it but must never log it (use ``dispatcher.privacy.mask``). ``html`` is the HTML
    part when the template has one (``<name>.<locale>.html.j2``), for channels that can use
    it."""

    attempt_id: str
    reminder_id: int
    case_id: str
    person_id: str
    channel: str
    contact_kind: ContactKind
    contact: str
    locale: str
    template: str
    body: str
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    html: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said. ``outcome`` is ``placed`` (accepted, fate unknown yet),
    ``delivered`` or ``conversation``; ``provider_id`` lets delivery callbacks find the
    attempt later."""

    provider_id: str | None = None
    outcome: Outcome = Outcome.PLACED
    detail: str = ""


class ChannelError(Exception):
    """Base of the errors a channel raises. ``code`` is the provider's code, if any;
    ``attempted`` says whether the person may have been contacted (it then counts toward
    limits)."""

    def __init__(self, message: str, *, code: str | None = None, attempted: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.attempted = attempted


class TransientError(ChannelError):
    """Worth trying again later. ``retry_after`` (seconds) is the provider's hint; the core
    decides when, and whether the retry still passes policy. ``channel_down`` says the channel
    cannot send anything now, whatever the message (the provider refuses our credentials, a
    wrong endpoint): the reminder waits without spending one of its ``max_tries``."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        attempted: bool = False,
        channel_down: bool = False,
    ) -> None:
        super().__init__(message, code=code, attempted=attempted)
        self.retry_after = retry_after
        self.channel_down = channel_down


class PermanentError(ChannelError):
    """Will never work for this message. ``mark_contact`` marks the address ``invalid``
    (undeliverable) or ``opted_out``, so later reminders to it are suppressed."""

    def __init__(
        self,
        message: str,
        *,
        mark_contact: Literal["invalid", "opted_out"] | None = None,
        code: str | None = None,
        attempted: bool = False,
    ) -> None:
        super().__init__(message, code=code, attempted=attempted)
        self.mark_contact = mark_contact


class Reconciled(enum.StrEnum):
    """What a channel learned of an attempt whose outcome was unknown: ``sent`` (the provider
    has it: the step is done and counts toward limits), ``not_sent`` (the provider never got
    it: the reminder is decided again, no try spent) or ``unknown`` (nothing to tell)."""

    SENT = "sent"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class UnknownAttempt:
    """An attempt confirmed for sending whose outcome was never recorded (a crash between
    hand-off and record), as ``Channel.reconcile`` gets it. ``at`` is when it was claimed (it
    left at or after that); ``provider_id`` is the provider's id when it was recorded.
    ``message`` is the message rendered again, given only to a channel that sets
    ``reconcile_resends`` and only while the case is open and the address may be used: the
    contact is the full address (never log it)."""

    attempt_id: str
    reminder_id: int | None
    channel: str
    contact: str
    at: datetime
    provider_id: str | None = None
    message: Message | None = None


class ChannelSettings(BaseModel):
    """Base for a channel's settings model; unknown keys are errors. A duration field is typed
    ``Duration`` (from this module): it reads ``"90s"``, ``"250ms"`` or a number of seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel:
    """Base class of every channel. A subclass sets ``type_name`` (what ``plugin =`` names in
    ``dispatcher.toml``), ``contact_kind`` and ``Settings``, and implements ``send``.

    One instance serves one configured channel (``[channels.<name>]``); ``open`` and ``close``
    are called once each by the daemon and must be safe to call again.
    """

    type_name: ClassVar[str]
    contact_kind: ContactKind = ContactKind.PHONE
    window_exempt: bool = False
    # A call channel that speaks a template only once it knows a person answered: each of
    # its templates must name a limited-content voicemail (meta ``voicemail``) for a machine,
    # or ``check`` refuses it (Reg F §1006.2(j)).
    requires_voicemail: ClassVar[bool] = False
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    # The channel type's own defaults for the long retries (keys of ``[channels.<name>]``:
    # reschedule_after, reschedule_growth, max_tries, give_up_after), used where the channel's
    # section sets none; what neither gives comes from ``[dispatch]``.
    retry_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, name: str, settings: ChannelSettings) -> None:
        self.name = name
        self.settings = settings

    def attach(self, services: Any) -> None:
        """Called by the daemon before ``open`` with its ``dispatcher.services.Services``:
        for a channel that keeps in the store what a callback reaching another node needs
        (a call's script). The base keeps nothing."""

    async def open(self) -> None:
        """Acquire connections or files. Called before the first send."""

    async def ready(self, message: Message) -> None:
        """Wait until the provider can take ``message`` now, and take the capacity its send
        will use (a connection from a pool, a sender's rate token, an HTTP slot); ``Slots``
        does the bookkeeping. Called before each try. Only after it does the core confirm
        the claim and decide again, so a crash leaves ``unknown`` only for messages really
        handed over, and a reload or payment that lands during the wait is honoured. Then
        the core calls ``send`` (or not) and, in every case, ``release``.

        Must not send anything. May raise what ``send`` raises (nothing was sent). May be
        cancelled (the daemon stops): when it raises or is cancelled it must hold nothing,
        and ``release`` is not called."""

    async def send(self, message: Message) -> SendResult:
        """Deliver ``message`` once, at once, with the capacity ``ready`` took. Raise
        TransientError or PermanentError on failure. Never wait for capacity here: a
        message waiting inside ``send`` is already confirmed ``sending``, and a crash would
        leave it ``unknown`` though nobody received it."""
        raise NotImplementedError

    def release(self, message: Message) -> None:
        """Give back what ``ready`` took for ``message``. Called exactly once after each
        ``ready`` that returned: once the outcome of ``send`` (whatever it did) is written to
        the store — so a channel never has more attempts ``sending`` than its capacity, and a
        crash leaves at most that many ``unknown`` — or instead of ``send`` (the policy no
        longer allows it, the case changed, the daemon stops). Must not block."""

    async def close(self) -> None:
        """Release what ``open`` acquired. Called after the last send."""

    # A channel whose provider dedupes by idempotency key (the attempt id) resolves an
    # unknown attempt by sending it again: ``reconcile`` then gets each attempt's message.
    reconcile_resends: ClassVar[bool] = False

    def reconciles(self) -> bool:
        """Whether ``reconcile`` can tell anything with these settings (by default: whether
        the class implements it); the daemon asks only a channel that can."""
        return type(self).reconcile is not Channel.reconcile

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        """Ask the provider what became of ``attempts`` (their outcome is unknown): an answer
        per attempt id, ``Reconciled.UNKNOWN`` for any left out. Called by the daemon in
        pages, with the channel open, never for an attempt it already resolved. Raise nothing
        for one attempt (say ``unknown``); an error raised fails the page, tried again later.
        The default knows nothing: every attempt stays unknown."""
        return {attempt.attempt_id: Reconciled.UNKNOWN for attempt in attempts}

    async def resend_to_reconcile(self, attempt: UnknownAttempt) -> Reconciled:
        """For a channel whose provider dedupes by attempt id (``reconcile_resends``): send
        ``attempt``'s message again (the provider answers with what it made, or makes it
        now, never a second) and say what that tells: ``sent``; ``not_sent`` when refused for
        good (it was never made either); ``unknown`` with no message or no clear answer. A
        ``channel_down`` error is raised: every attempt would fail alike."""
        if attempt.message is None:
            return Reconciled.UNKNOWN
        try:
            await self.ready(attempt.message)  # capacity first, as for any send
            try:
                await self.send(attempt.message)
            finally:
                self.release(attempt.message)
        except TransientError as exc:
            if exc.channel_down:
                raise
            return Reconciled.UNKNOWN
        except PermanentError:
            return Reconciled.NOT_SENT
        return Reconciled.SENT


class Slots:
    """At most ``size`` messages at once between ``ready`` and ``release``: a channel that
    limits its concurrent requests waits in ``ready`` with ``await slots.take(message)`` and
    gives back in ``release`` with ``slots.give_back(message)`` (which ignores a message that
    holds no slot, so it may be called unconditionally)."""

    def __init__(self, size: int) -> None:
        self._free = asyncio.Semaphore(size)
        self._held: set[str] = set()  # attempt ids holding a slot

    async def take(self, message: Message) -> None:
        """Wait for a free slot and hold it for ``message`` (cancellation-safe)."""
        await self._free.acquire()
        self._held.add(message.attempt_id)

    def give_back(self, message: Message) -> None:
        """Free ``message``'s slot, if it holds one."""
        if message.attempt_id in self._held:
            self._held.discard(message.attempt_id)
            self._free.release()

    @property
    def held(self) -> int:
        return len(self._held)


__all__ = [
    "Channel",
    "ChannelError",
    "ChannelSettings",
    "Duration",
    "Message",
    "PermanentError",
    "Reconciled",
    "SendResult",
    "Slots",
    "TransientError",
    "UnknownAttempt",
]
