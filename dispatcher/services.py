"""What a plugin's HTTP handlers may do in the daemon: ``Services``, passed to the
``register_routes`` hook, for webhooks a provider calls back (delivery reports, replies) and
links a person follows (unsubscribe). Each method is one documented operation on the daemon;
a plugin never sees the store. ``Settled`` is what ``settle_attempt`` returns.

Handlers are registered once, when the daemon starts, but the config is swapped on reload:
every method looks the config up at each call, never keeps it from registration time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dispatcher.model import ContactKind, Outcome
from dispatcher.store.api import Retry, Settled
from dispatcher.store.inbound import REPORT_KEPT, InboundEvent
from dispatcher.store.scripts_api import CallScript

if TYPE_CHECKING:
    from dispatcher.channel import Channel
    from dispatcher.model import Case, Person
    from dispatcher.runtime import Runtime
    from dispatcher.store.api import Store


class Services:
    """What a plugin's HTTP handlers may do in the daemon.

    Every method reads the config in force at the moment it is called (a reload swaps it),
    does its store work on the daemon's store thread, and, where what may be sent to a person
    changed (an opt-out, a dead address, a delivery to try again), has a claim of theirs that
    waits to be sent checked again first.
    """

    def __init__(
        self,
        *,
        store: Store,
        call: Callable[..., Awaitable[Any]],
        runtime: Callable[[], Runtime],
        clock: Callable[[], datetime],
        changed: Callable[[str], None],
    ) -> None:
        """Built by the daemon: ``call`` runs a store method on its store thread, ``runtime``
        returns the config in force, ``changed(person_id)`` has that person's waiting claims
        checked again."""
        self._store = store
        self._call = call
        self._runtime = runtime
        self._clock = clock
        self._changed = changed

    # -- the config in force ------------------------------------------------------------------

    @property
    def config_version(self) -> str:
        """A short hash of the config directory in force (``/metrics``' config version)."""
        return self._runtime().version

    def channels(self, type_name: str | None = None) -> list[Channel]:
        """The configured channels, in config order; with ``type_name``, only those whose
        plugin registered that type (``Channel.type_name``)."""
        found = self._runtime().channels.values()
        return [c for c in found if type_name is None or c.type_name == type_name]

    # -- looking up -------------------------------------------------------------------------

    async def person(self, person_id: str) -> Person | None:
        """The person with their contact points and opt-outs, or None. Personal data: never
        log it, never put it in a response a caller has not proved to own."""
        return await self._call(self._store.get_person, person_id)

    async def case(self, case_id: str) -> Case | None:
        """The case (state, amount, due date), or None."""
        return await self._call(self._store.get_case, case_id)

    # -- what a provider reports ------------------------------------------------------------

    async def settle_attempt(
        self,
        *,
        attempt_id: str | None,
        provider_id: str | None,
        outcome: Outcome,
        error_code: str | None = None,
        detail: str | None = None,
        mark_contact: str | None = None,
        retry: bool = False,
        event_id: str | None = None,
    ) -> Settled:
        """Record a provider's delivery report on one attempt, found by ``attempt_id`` (the
        provider's ``provider_id`` is then kept if the attempt had none) or else by
        ``provider_id``. Reports may come twice or out of order: an outcome only moves forward
        (placed → failed → delivered → conversation), so a late or repeated one changes
        nothing. ``mark_contact`` (``"invalid"`` or ``"opted_out"``) marks the attempt's
        address as a failed send would. ``retry`` for a temporary delivery failure: the
        reminder is tried again after its channel's backoff (its long retries), through the
        policy, until its ``max_tries`` or ``give_up_after``. ``event_id``: the provider's
        id for this report (Twilio: its sid and status); a report seen before changes
        nothing. Returns what changed (``.changed``, ``.person_id``, ``.retried``)."""
        rule = delivery_retry(self._runtime()) if retry else None
        result = await self._call(
            self._store.settle_attempt,
            attempt_id=attempt_id,
            provider_id=provider_id,
            outcome=outcome,
            now=self._clock(),
            error_code=error_code,
            detail=detail,
            mark_contact=mark_contact,
            retry=rule,
            event=InboundEvent("report", event_id, kept=REPORT_KEPT) if event_id else None,
        )
        if result.person_id and (mark_contact or result.retried):
            self._changed(result.person_id)
        return result

    # -- what a person asks -----------------------------------------------------------------

    async def opt_out_contact(
        self,
        kind: ContactKind,
        value: str,
        channel: str,
        *,
        source: str,
        clear: bool = False,
        event_id: str | None = None,
        event_at: datetime | None = None,
    ) -> list[str]:
        """Opt the address ``value`` out of ``channel`` (or with ``clear``, lift that) for
        every person who has it: a STOP reply names a number, not a person. ``source`` is
        recorded with the opt-out (``sms_stop``). ``event_id`` is the provider's id for the
        message (Twilio's ``MessageSid``), ``event_at`` its timestamp if the provider gives
        one (else the time it reached us orders it): a message seen before, or older than
        the last opt-out or opt-in of the address on ``channel``, changes nothing. Returns
        the ids of the people changed."""
        event = InboundEvent(f"consent:{channel}", event_id, event_at) if event_id else None
        people = await self._call(
            self._store.opt_out_contact,
            kind,
            value,
            channel,
            now=self._clock(),
            source=source,
            clear=clear,
            event=event,
        )
        for person_id in people:
            self._changed(person_id)
        return people

    async def opt_out(
        self,
        person_id: str,
        channel: str,
        contact: str | None,
        *,
        source: str,
        clear: bool = False,
    ) -> None:
        """Opt one person out of ``channel`` (``"*"``: every channel) for the address
        ``contact`` or, with None, all their addresses; with ``clear``, lift it. Raises
        LookupError for an unknown person."""
        await self._call(
            self._store.opt_out,
            person_id,
            channel,
            contact,
            now=self._clock(),
            source=source,
            clear=clear,
        )
        self._changed(person_id)

    # -- what a call will say -----------------------------------------------------------------

    async def keep_call_script(
        self, attempt_id: str, *, person: str, machine: str, keep: timedelta
    ) -> None:
        """Keep, for ``keep``, what the call of ``attempt_id`` says once detection has decided
        who answered (``person``: its template, ``machine``: its voicemail), so the verdict is
        answered by whichever node it reaches. Personal data: nothing keeps it longer (the
        next call placed removes those expired)."""
        now = self._clock()
        script = CallScript(person=person, machine=machine, expires_at=now + keep)
        await self._call(self._store.keep_call_script, attempt_id, script, now)

    async def take_call_script(self, attempt_id: str) -> CallScript | None:
        """The script of ``attempt_id`` (``.person``, ``.machine``), removed as it is read:
        of the verdicts that reach any node, one gets it. None when there is none (taken,
        forgotten, expired, or never kept)."""
        return await self._call(self._store.take_call_script, attempt_id, self._clock())

    async def forget_call_script(self, attempt_id: str) -> None:
        """Remove the script of ``attempt_id``: its call ended, or was never placed."""
        await self._call(self._store.forget_call_script, attempt_id)


__all__ = ["Services", "Settled"]


def delivery_retry(runtime: Runtime) -> Retry:
    """The long retries of every configured channel, as the store applies them to a
    delivery that failed for a temporary reason: the same rule a refused send follows."""
    dispatcher = runtime.config.dispatcher
    dispatch = dispatcher.dispatch
    channels = {}
    for name in dispatcher.channels:
        plugin = runtime.channels.get(name)
        channels[name] = dispatcher.retry_rule(name, plugin.retry_defaults if plugin else None)
    return Retry(
        after=dispatch.reschedule_after,
        max_tries=dispatch.max_tries,
        growth=dispatch.reschedule_growth,
        give_up_after=dispatch.give_up_after,
        channels=channels,
    )
