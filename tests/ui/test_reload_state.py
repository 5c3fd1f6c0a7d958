"""The console's last reload: the daemon's record of it when there is one, else the metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from dispatcher.daemon.reload import ReloadRecord
from dispatcher.metrics import Metrics
from dispatcher.ui.reload_state import last_reload


def _core(record: ReloadRecord | None) -> Any:
    return SimpleNamespace(
        metrics=Metrics(),
        runtime=SimpleNamespace(version="v-running"),
        last_reload=(lambda: record) if record is not None else None,
    )


def test_a_refused_reload_shows_its_time_problems_and_the_version_kept() -> None:
    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    record = ReloadRecord(
        at=at,
        source="http",
        ok=False,
        version="v-kept",
        problems=("policy.toml:3: windows: bad time '25:00'",),
    )
    view = last_reload(_core(record))
    assert (view.accepted, view.version, view.at) == (False, "v-kept", at)
    assert view.problems == ("policy.toml:3: windows: bad time '25:00'",)


def test_without_the_daemons_record_the_metrics_say_what_they_can() -> None:
    view = last_reload(_core(None))
    assert (view.accepted, view.version, view.at, view.problems) == (True, "v-running", None, ())
