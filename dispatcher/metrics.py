"""Prometheus metrics, on a registry of the daemon's own (never the process-global one, so
two daemons in one test process do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
