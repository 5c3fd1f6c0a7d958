"""Prometheus metrics, on a registry of the daemon's own (never the process-global one, so
two daemons in one test process do not collide), with the standard ``process_*`` and
``python_*`` collectors on it.

Every labelled series whose labels are known up front is there from the start at 0 (the
channels of the config, the verdicts with the reasons each can carry, the outcomes, the store's
call sites, the reload results): a rate over a counter that appears only at its first
increment misses that increment. No ``_created`` series: they double the exposition and no
dashboard reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from dispatcher.model import Outcome, ReminderState

disable_created_metrics()

SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)

# The first reason code each verdict can carry (the policy's, and the dispatch's
# ``policy_error``); a send carries none. tests/test_metrics.py checks it against the sources.
DECISION_REASONS: dict[str, tuple[str, ...]] = {
    "send": ("",),
    "defer": (
        "quiet_hours",
        "holiday",
        "rate_limit",
        "min_gap",
        "cooldown",
        "daily_cap",
        "case_plan",
        "case_hardship",
        "case_disputed",
        "breathing_space",
        "preference",
        "policy_error",
    ),
    "suppress": (
        "consent_required",
        "preference",
        "unknown_channel",
        "case_paid",
        "case_closed",
        "case_ceased",
        "case_bankrupt",
        "case_deceased",
        "opt_out",
        "no_contact",
        "contact_invalid",
        "rate_limit",
    ),
}
# What a send's record can say (reserved, sending and released are never recorded by a send).
SEND_OUTCOMES = tuple(
    o for o in Outcome if o not in (Outcome.RESERVED, Outcome.SENDING, Outcome.RELEASED)
)
# The daemon's store calls that are tried again when they fail (docs/ops.md lists them).
STORE_CALLS = (
    "claim",
    "release_lost",
    "next_due",
    "confirm",
    "record",
    "release",
    "renew",
    "expire",
    "status",
    "plan",
    "probe",
)
RELOAD_RESULTS = ("success", "failure")


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # The collectors prometheus_client puts on its global registry, on ours instead.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "dispatcher_build_info",
            "The program's version and the store schema version it uses (always 1).",
            ["version", "schema"],
            registry=r,
        )
        self.decisions = Counter(
            "dispatcher_decisions",
            "Policy decisions by verdict and reason code.",
            ["verdict", "reason"],
            registry=r,
        )
        self.attempts = Counter(
            "dispatcher_attempts",
            "Recorded attempt outcomes by channel.",
            ["channel", "outcome"],
            registry=r,
        )
        self.store_errors = Counter(
            "dispatcher_store_errors",
            "Store calls of the daemon that failed (and were tried again), by call site.",
            ["call"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "dispatcher_send_seconds",
            "Time a channel took to send one message.",
            ["channel"],
            buckets=SEND_BUCKETS,
            registry=r,
        )
        self.due_lag = Histogram(
            "dispatcher_due_to_send_lag_seconds",
            "From the instant a reminder was due (after deferrals) to its send.",
            ["channel"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.channel_up = Gauge(
            "dispatcher_channel_up",
            "1 while the channel is open and sending; 0 when its open failed or it said it "
            "cannot send (credentials refused, endpoint wrong) until a send succeeds.",
            ["channel"],
            registry=r,
        )
        self.reminders = Gauge(
            "dispatcher_reminders",
            "Reminders in the store by state.",
            ["state"],
            registry=r,
        )
        self.due_now = Gauge(
            "dispatcher_reminders_due",
            "Pending reminders already due.",
            registry=r,
        )
        self.unknown = Gauge(
            "dispatcher_unknown_attempts",
            "Attempts whose outcome is unknown (a crash between send and record), by channel.",
            ["channel"],
            registry=r,
        )
        self.reloads = Counter(
            "dispatcher_reloads",
            "Config reloads by result.",
            ["result"],
            registry=r,
        )
        self.config_ok = Gauge(
            "dispatcher_config_last_reload_success",
            "1 when the last reload was applied, 0 when it was rejected.",
            registry=r,
        )
        self.config_ok_at = Gauge(
            "dispatcher_config_last_reload_success_timestamp_seconds",
            "When the config in force was loaded (at start or by the last applied reload).",
            registry=r,
        )
        self.config_version = Gauge(
            "dispatcher_config_info",
            "The running config's version (hash of its files).",
            ["version"],
            registry=r,
        )
        self.api_requests = Counter(
            "dispatcher_api_requests",
            "API requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.store_up = Gauge(
            "dispatcher_store_up",
            "1 while the store answers the daemon's calls, 0 during an outage.",
            registry=r,
        )
        self.store_outage_seconds = Counter(
            "dispatcher_store_outage_seconds",
            "Seconds the store was unreachable, summed over the outages that ended.",
            registry=r,
        )
        self.loop_turn_age = Gauge(
            "dispatcher_loop_seconds_since_turn",
            "Seconds since the dispatch loop last turned (a wedged loop grows it).",
            registry=r,
        )
        self.config_ok.set(1)
        self.store_up.set(1)
        self._unknown_channels: set[str] = set()
        self._up_channels: set[str] = set()  # those dispatcher_channel_up has
        self._initialise()

    def _initialise(self) -> None:
        for verdict, reasons in DECISION_REASONS.items():
            for reason in reasons:
                self.decisions.labels(verdict, reason)
        for call in STORE_CALLS:
            self.store_errors.labels(call)
        for result in RELOAD_RESULTS:
            self.reloads.labels(result)
        for state in ReminderState:
            self.reminders.labels(state.value)

    def set_build_info(self, version: str, schema: int) -> None:
        self.build_info.clear()
        self.build_info.labels(version=version, schema=str(schema)).set(1)

    def know_channels(self, channels: Iterable[str]) -> None:
        """Give each configured channel its series (at 0) before its first send; a channel
        no longer configured keeps its counts but leaves ``dispatcher_channel_up``."""
        names = set(channels)
        for gone in self._up_channels - names:
            self.channel_up.remove(gone)
        self._up_channels &= names
        for channel in names:
            for outcome in SEND_OUTCOMES:
                self.attempts.labels(channel, outcome.value)
            self.send_seconds.labels(channel)
            self.due_lag.labels(channel)
            self.unknown.labels(channel)
        self._unknown_channels |= names

    def set_channel_up(self, channel: str, up: bool) -> None:
        self.channel_up.labels(channel).set(1 if up else 0)
        self._up_channels.add(channel)

    def set_reminders(self, by_state: dict[str, int]) -> None:
        """Reminders by state; a state with none reads 0."""
        for state in {s.value for s in ReminderState} | by_state.keys():
            self.reminders.labels(state).set(by_state.get(state, 0))

    def set_unknown(self, by_channel: dict[str, int]) -> None:
        """Every unknown attempt, by channel; a channel with none left reads 0 (not gone)."""
        for channel in list(self._unknown_channels - by_channel.keys()):
            self.unknown.labels(channel=channel).set(0)
        for channel, count in by_channel.items():
            self.unknown.labels(channel=channel).set(count)
        self._unknown_channels |= by_channel.keys()

    def set_config_version(self, version: str) -> None:
        self.config_version.clear()
        self.config_version.labels(version=version).set(1)

    def config_loaded(self, version: str, at: float) -> None:
        """A config was put in force (at start or by a reload) at ``at`` (Unix time)."""
        self.set_config_version(version)
        self.config_ok.set(1)
        self.config_ok_at.set(at)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
