"""What the console says of the config's last reload: the daemon's record of it (its time,
whether it was applied, the version in force, the problems it was refused for), and the count
of reloads tried from the metrics. Without the daemon's record (a bare API app), the metrics
alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dispatcher.api.access import CoreAccess


@dataclass(frozen=True)
class ReloadView:
    version: str  # the config in force
    reloads: int  # reloads tried since start
    accepted: bool  # whether the last one was applied (True when none was tried)
    at: datetime | None = None  # when the last one was tried, when known
    problems: tuple[str, ...] = field(default=())  # why it was rejected, when known


def last_reload(core: CoreAccess) -> ReloadView:
    registry = core.metrics.registry
    tried = sum(
        registry.get_sample_value("dispatcher_reloads_total", {"result": result}) or 0
        for result in ("success", "failure")
    )
    record = core.last_reload() if core.last_reload is not None else None
    if record is not None:
        return ReloadView(
            version=record.version,
            reloads=int(tried),
            accepted=record.ok,
            at=record.at,
            problems=tuple(record.problems),
        )
    ok = registry.get_sample_value("dispatcher_config_last_reload_success")
    return ReloadView(version=core.runtime.version, reloads=int(tried), accepted=ok != 0)
