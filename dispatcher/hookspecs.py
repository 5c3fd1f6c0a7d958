"""Every hook a dispatcher plugin can implement: the plugin author's reference.

A plugin is a module (or object) registered under the entry-point group ``dispatcher``::

    [project.entry-points.dispatcher]
    my-channel = "my_package.plugin"

and marks its functions with ``dispatcher.hookimpl``. Built-in channels are registered the same
way. Set ``DISPATCHER_PLUGINS=name,name`` to load only the named entry points (tests use it so
an installed third-party plugin cannot change their result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("dispatcher")
hookimpl = pluggy.HookimplMarker("dispatcher")


@hookspec
def register_channels(register: Callable[[type[Any]], None]) -> None:
    """Register channel classes.

    Called once when the plugin manager starts. Call ``register(cls)`` for each subclass of
    ``dispatcher.channel.Channel`` the plugin provides; ``cls.type_name`` is the name admins
    write in ``[channels.<name>] plugin = "…"``. Registering two classes under one type name
    is an error reported by ``dispatcher check``.
    """


@hookspec
def register_routes(app: Any, services: Any) -> None:
    """Add HTTP routes to the daemon's server (an ``aiohttp.web.Application``).

    Called once when the daemon starts, before the server listens, whatever channels are
    configured: use it for webhooks a provider calls back (delivery reports, replies,
    unsubscribe links). ``services`` is a ``dispatcher.services.Services``: a handler finds
    the channels in force through ``services.channels()`` on each request (reload swaps
    them), records what a provider or a person said through its methods (``settle_attempt``,
    ``opt_out_contact``, ``opt_out``, ``person`` …; docs/plugins.md lists them all), never
    the store, and answers a request it cannot authenticate with 403 before changing
    anything. Paths start with the
    plugin's own prefix (``/twilio/``, ``/email/``); ``/v1/`` and the health paths belong to
    the core. Routes stay for the daemon's life: a reload does not add or remove them.
    """


@hookspec
def on_decision(reminder: Any, decision: Any) -> None:
    """Observe a policy decision (``dispatcher.model.Reminder``, ``dispatcher.model.Decision``).

    Called after the decision is committed to the store, for every send, defer and suppress.
    For export or audit only: the return value is ignored, and the hook must not block (it
    runs on the dispatch loop). Contact details in ``decision.contact`` are personal data:
    mask them before they leave the process.
    """


@hookspec
def on_attempt(attempt_id: str, channel: str, outcome: str, error_code: str | None) -> None:
    """Observe the recorded outcome of one attempt.

    Called after the outcome (``placed``, ``delivered``, ``failed-transient``,
    ``failed-permanent``, ``conversation``, ``unknown``) is committed to the store. The return
    value is ignored; the hook must not block.
    """
