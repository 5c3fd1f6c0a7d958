"""The daemon: life cycle, systemd's notify protocol, the HTTP server, logs."""

from dispatcher.daemon.claims import node_name
from dispatcher.daemon.lifecycle import Daemon

__all__ = ["Daemon", "node_name"]
