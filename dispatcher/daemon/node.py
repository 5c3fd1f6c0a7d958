"""This daemon as one node among several: the name its claims carry, its claims recovered at
start and stop and renewed while it is alive, and the claims of a vanished node expired."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from dispatcher.dispatch.clock import Clock
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.runtime import Runtime
from dispatcher.store.api import RecoveryReport

log = logging.getLogger("dispatcher.daemon")


def node_name(configured: str) -> str:
    """This daemon's name on its claims: $DISPATCHER_NODE, else ``node`` in dispatcher.toml,
    else the host name. Stable across restarts, so a restarted daemon finds its own claims."""
    return os.environ.get("DISPATCHER_NODE") or configured or socket.gethostname()


async def recover_claims(
    store_thread: StoreThread, runtime: Runtime, node: str, now: datetime
) -> RecoveryReport:
    """Settle ``node``'s claims: back to the pool if never confirmed for sending, else
    ``unknown`` (or pending again on the channels ``runtime`` resends on)."""
    store = store_thread.store
    return await store_thread.call(store.recover, now, runtime.resend_on_unknown, node)


async def recover_last_run(
    store_thread: StoreThread, runtime: Runtime, node: str, now: datetime
) -> None:
    """At start: settle the attempts a crash of this node left in flight, and say so."""
    report = await recover_claims(store_thread, runtime, node, now)
    _warn_settled("attempts left in flight by the last run", report)


async def renew_and_expire_claims(
    store_thread: StoreThread, runtime: Runtime, node: str, clock: Clock
) -> None:
    """Renew ``node``'s claims, then expire those of any node that stopped renewing its own
    for the claim lease. A store failure is reported to the store's health (calls ``renew``,
    ``expire``) and raised; the next refresh tries again.

    Across an outage: this node's waiting claims are only ever sent once the store confirms
    them still its own (``Store.start_sending``), so a claim whose lease ran out meanwhile,
    and that another node took, is never sent from here. The other nodes' claims are expired
    only once this node has reached the store for a whole lease since its last outage: an
    outage that cut every node off stopped their renewals too, and they get a lease to
    renew before theirs are taken."""
    store = store_thread.store
    settings = runtime.config.dispatcher.dispatch
    # Ours first: this node is alive, so its claims must not expire under it.
    await store_thread.guarded("renew", store.renew_claims, node, clock())
    lease = settings.claim_lease
    if store_thread.health.reachable_for() < lease.total_seconds():
        return
    expired = await store_thread.guarded(
        "expire", store.expire_claims, clock(), runtime.resend_on_unknown, lease
    )
    _warn_settled("claims of a vanished node expired", expired)


def _warn_settled(message: str, report: RecoveryReport) -> None:
    if report.unknown or report.requeued or report.released:
        log.warning(
            message,
            extra={
                "fields": {
                    "unknown": report.unknown,
                    "requeued": report.requeued,
                    "released": report.released,
                }
            },
        )
