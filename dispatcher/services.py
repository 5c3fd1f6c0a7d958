"""What the daemon offers to code that answers HTTP requests.

- ``Services`` is the plugins' side of it, passed to the ``register_routes`` hook: webhooks a
  provider calls back (delivery reports, replies) and links a person follows (unsubscribe).
  Each method is one documented operation on the daemon; a plugin never sees the store.
- ``CoreAccess`` is the core's own side (the ``/v1/`` API): the store on its thread, the
  config in force, the clock, the metrics. Internal: not for plugins.

Handlers are registered once, when the daemon starts, but the config is swapped on reload:
both look the config up at each call, never keep it from registration time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from dispatcher.model import ContactKind, Outcome
from dispatcher.store.api import Retry

if TYPE_CHECKING:
    from dispatcher.channel import Channel
    from dispatcher.metrics import Metrics
    from dispatcher.model import Case, Person
    from dispatcher.runtime import Runtime
    from dispatcher.store.api import Settled, Store

T = TypeVar("T")


class CoreAccess:
    """The daemon's state as the core's request handlers use it.

    ``call(fn, *args)`` runs a store method on the daemon's store thread (the only way to
    touch the store: SQLite sees one writer per process); ``changed(case_id=…,
    person_id=…)`` after a handler changed a case or person (an event, an opt-out): a claim of
    theirs not yet sent is checked again before its send, and the dispatch loop claims again
    at once.
    """

    def __init__(
        self,
        *,
        store: Store,
        call: Callable[..., Any],
        runtime: Callable[[], Runtime],
        clock: Callable[[], datetime],
        metrics: Metrics,
        changed: Callable[[str | None, str | None], None],
    ) -> None:
        self.store = store
        self._call = call
        self._runtime = runtime
        self.clock = clock
        self.metrics = metrics
        self._changed = changed

    @property
    def runtime(self) -> Runtime:
        """The config in force now (it changes on reload)."""
        return self._runtime()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (a bound method of ``self.store``) on the store thread."""
        result: T = await self._call(fn, *args, **kwargs)
        return result

    def changed(self, *, case_id: str | None = None, person_id: str | None = None) -> None:
        self._changed(case_id, person_id)


class Services:
    """What a plugin's HTTP handlers may do in the daemon.

    Every method reads the config in force at the moment it is called (a reload swaps it),
    does its store work on the daemon's store thread, and, where what may be sent to a person
    changed (an opt-out, a dead address, a delivery to try again), has a claim of theirs that
    waits to be sent checked again first.
    """

    def __init__(self, core: CoreAccess) -> None:
        self._core = core

    # -- the config in force ------------------------------------------------------------------

    @property
    def config_version(self) -> str:
        """A short hash of the config directory in force (``/metrics``' config version)."""
        return self._core.runtime.version

    def channels(self, type_name: str | None = None) -> list[Channel]:
        """The configured channels, in config order; with ``type_name``, only those whose
        plugin registered that type (``Channel.type_name``)."""
        found = self._core.runtime.channels.values()
        return [c for c in found if type_name is None or c.type_name == type_name]

    # -- looking up -------------------------------------------------------------------------

    async def person(self, person_id: str) -> Person | None:
        """The person with their contact points and opt-outs, or None. Personal data: never
        log it, never put it in a response a caller has not proved to own."""
        return await self._core.call(self._core.store.get_person, person_id)

    async def case(self, case_id: str) -> Case | None:
        """The case (state, amount, due date), or None."""
        return await self._core.call(self._core.store.get_case, case_id)

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
    ) -> Settled:
        """Record a provider's delivery report on one attempt, found by ``attempt_id`` (the
        provider's ``provider_id`` is then kept if the attempt had none) or else by
        ``provider_id``. Reports may come twice or out of order: an outcome only moves forward
        (placed → failed → delivered → conversation), so a late or repeated one changes
        nothing. ``mark_contact`` (``"invalid"`` or ``"opted_out"``) marks the attempt's
        address as a failed send would. ``retry`` for a temporary delivery failure: the
        reminder is tried again after the ``[dispatch]`` backoff, through the policy, until
        ``max_tries``. Returns what changed (``.changed``, ``.person_id``, ``.retried``)."""
        core = self._core
        rule = None
        if retry:
            dispatch = core.runtime.config.dispatcher.dispatch
            rule = Retry(after=dispatch.reschedule_after, max_tries=dispatch.max_tries)
        result = await core.call(
            core.store.settle_attempt,
            attempt_id=attempt_id,
            provider_id=provider_id,
            outcome=outcome,
            now=core.clock(),
            error_code=error_code,
            detail=detail,
            mark_contact=mark_contact,
            retry=rule,
        )
        if result.person_id and (mark_contact or result.retried):
            core.changed(person_id=result.person_id)
        return result

    # -- what a person asks -----------------------------------------------------------------

    async def opt_out_contact(
        self, kind: ContactKind, value: str, channel: str, *, source: str, clear: bool = False
    ) -> list[str]:
        """Opt the address ``value`` out of ``channel`` (or with ``clear``, lift that) for
        every person who has it: a STOP reply names a number, not a person. ``source`` is
        recorded with the opt-out (``sms_stop``). Returns the ids of those people."""
        core = self._core
        people = await core.call(
            core.store.opt_out_contact,
            kind,
            value,
            channel,
            now=core.clock(),
            source=source,
            clear=clear,
        )
        for person_id in people:
            core.changed(person_id=person_id)
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
        core = self._core
        await core.call(
            core.store.opt_out,
            person_id,
            channel,
            contact,
            now=core.clock(),
            source=source,
            clear=clear,
        )
        core.changed(person_id=person_id)
