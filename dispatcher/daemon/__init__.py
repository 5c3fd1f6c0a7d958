"""The daemon: its life cycle (start, signals, graceful stop), this node's claims, the cron
jobs, the status line and readiness, reload, systemd's notify protocol, the HTTP server, logs."""

from dispatcher.daemon.lifecycle import Daemon
from dispatcher.daemon.node import node_name

__all__ = ["Daemon", "node_name"]
