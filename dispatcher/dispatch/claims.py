"""The claim stage: claim a batch of due reminders — each decided, and each send's attempt
reserved, in one store transaction (``Store.claim_due``) — and observe its decisions: the
counters, the decisions metric, ``on_decision`` observers and the debug log."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import pluggy

from dispatcher.dispatch.counters import Counters
from dispatcher.dispatch.decision import decide_guarded
from dispatcher.dispatch.store_thread import StoreThread
from dispatcher.metrics import Metrics
from dispatcher.model import Verdict
from dispatcher.runtime import Runtime
from dispatcher.store.api import ClaimBatch

log = logging.getLogger("dispatcher.dispatch")


async def claim_due(
    store: StoreThread, runtime: Runtime, now: datetime, limit: int, node: str
) -> ClaimBatch:
    """Up to ``limit`` due reminders, decided by ``runtime``'s policy at ``now``; the sends
    among them claimed by ``node``. A store failure is reported to the store's health (as
    call ``claim``) and raised."""
    policy = runtime.policy

    def decide_now(reminder: Any, person: Any, case: Any, history: Any) -> Any:
        return decide_guarded(policy, reminder, person, case, history, now)

    return await store.guarded(
        "claim",
        store.store.claim_due,
        now,
        limit,
        decide_now,
        policy.lookback,
        node,
        runtime.policy_version,
    )


async def release_lost_claims(store: StoreThread, node: str, held: set[str], now: datetime) -> None:
    """After a failed claim: give back ``node``'s reservations that the loop does not hold
    (``held``: the attempts it waits to send or to record). A claim whose commit reached the
    store while its answer was lost left such reservations, unknown to the loop and renewed
    with the node's other claims: without this, nobody would send them until a restart. A
    store failure is reported to the store's health (call ``release_lost``) and raised."""
    released = await store.guarded("release_lost", store.store.release_lost_claims, node, held, now)
    if released:
        log.warning(
            "claims lost with a failed claim call given back",
            extra={"fields": {"count": released}},
        )


def observe_decisions(
    batch: ClaimBatch,
    counters: Counters,
    metrics: Metrics | None,
    on_decision: pluggy.HookCaller,
) -> None:
    sends = len(batch.claims)
    defers = sum(1 for _, d in batch.decided if d.verdict is Verdict.DEFER)
    suppressed = len(batch.decided) - sends - defers
    counters.claimed += sends
    counters.deferred += defers
    counters.suppressed += suppressed
    log.info(
        "claimed batch",
        extra={
            "fields": {
                "decided": len(batch.decided),
                "send": sends,
                "defer": defers,
                "suppress": suppressed,
            }
        },
    )
    has_observers = bool(on_decision.get_hookimpls())
    for reminder, decision in batch.decided:
        if metrics:
            reason = decision.reasons[0].code if decision.reasons else ""
            metrics.decisions.labels(decision.verdict.value, reason).inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "decision",
                extra={
                    "fields": {
                        "reminder": reminder.id,
                        "case": reminder.case_id,
                        "verdict": decision.verdict.value,
                        "until": decision.until.isoformat() if decision.until else None,
                        "reasons": ",".join(r.code for r in decision.reasons),
                    }
                },
            )
        if has_observers:
            on_decision(reminder=reminder, decision=decision)
