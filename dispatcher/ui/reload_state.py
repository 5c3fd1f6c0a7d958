"""What the console says of the config's last reload. Today the daemon keeps the version in
force and whether the last reload was applied (its metrics); ``last_reload`` is the one place
that reads them, so a fuller record (its time, the rejected problems) plugs in here."""

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
    ok = registry.get_sample_value("dispatcher_config_last_reload_success")
    return ReloadView(version=core.runtime.version, reloads=int(tried), accepted=ok != 0)
