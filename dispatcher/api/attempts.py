"""``POST /v1/attempts:resolve``: an operator's resolution of attempts whose outcome is
unknown, as ``dispatcher unknown resolve`` makes it, a page per store call."""

from __future__ import annotations

import logging
from functools import partial

from dispatcher.admin.unknowns import Selection, resolve_selection
from dispatcher.api.call import Answer, Call
from dispatcher.api.models import ResolveBody, ResolveResult
from dispatcher.api.problems import FieldError, invalid
from dispatcher.store.unknown_api import Resolution

log = logging.getLogger("dispatcher.api")


def _selection(body: ResolveBody, channels: list[str]) -> Selection:
    """The attempts ``body`` names, or 422 when it names none or several ways."""
    named = [body.attempt_ids is not None, body.channel is not None, body.all]
    if sum(named) != 1:
        raise invalid(
            [FieldError("attempt_ids", "name exactly one of attempt_ids, channel and all")]
        )
    if body.channel is not None and body.channel not in channels:
        known = ", ".join(channels)
        raise invalid([FieldError("channel", f"unknown channel {body.channel!r} (known: {known})")])
    if not body.reason.strip():
        raise invalid([FieldError("reason", "must say why (it is recorded for audit)")])
    ids = tuple(dict.fromkeys(body.attempt_ids)) if body.attempt_ids is not None else None
    return Selection(ids=ids, channel=body.channel)


async def post_resolve(call: Call) -> Answer:
    body: ResolveBody = call.body
    core = call.core
    selection = _selection(body, list(core.runtime.config.dispatcher.channels))
    resolved = await resolve_selection(
        partial(core.call, core.store.resolve_unknown),
        selection,
        resolution=Resolution(body.resolution),
        reason=body.reason.strip(),
        source=f"api:{call.caller.name}",
        now=core.clock(),
    )
    if body.resolution != Resolution.SENT.value and resolved:
        core.changed(case_id=None, person_id=None)  # pending again: claim now
    log.info(
        "api resolved unknown attempts",
        extra={
            "fields": {
                "resolution": body.resolution,
                "resolved": len(resolved),
                "token": call.caller.name,
            }
        },
    )
    given = selection.ids or ()
    done_ids = set(resolved)
    return 200, ResolveResult(
        resolution=body.resolution,
        resolved=len(resolved),
        not_unknown=[aid for aid in given if aid not in done_ids],
    )
