"""The daemon: life cycle, systemd's notify protocol, the HTTP server, logs."""

from dispatcher.daemon.lifecycle import Daemon, node_name

__all__ = ["Daemon", "node_name"]
