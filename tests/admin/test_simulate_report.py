"""What ``simulate`` reports beyond the timeline: the hour-of-day charts with their counts
and the channels' windows shaded behind them, suppressions by reason, contacts per
jurisdiction, and all of it as one JSON object for scripts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from dispatcher.admin.simulate import Contact, SimulationResult
from dispatcher.admin.simulate_report import render_html, report_json, suppressed_by_reason
from dispatcher.cli import main
from tests.admin.test_simulate import DATA
from tests.conftest import Deployment


def _simulate(dep: Deployment, tmp_path: Path, *extra: str) -> tuple[str, str]:
    data = tmp_path / "people.csv"
    data.write_text(DATA)
    args = ["--config", str(dep.config), "simulate", "--days", "10", "--data", str(data)]
    result = CliRunner().invoke(
        main, [*args, "--start", "2026-03-02", *extra], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_json_holds_the_report_and_nothing_else(deployment: Deployment, tmp_path: Path) -> None:
    page = tmp_path / "sim.html"
    stdout, stderr = _simulate(deployment, tmp_path, "--json", "--html", str(page))
    report = json.loads(stdout)  # the whole of standard output is the one object
    assert f"wrote {page}" in stderr
    assert report["contacts"] == len(report["timeline"]) > 0
    assert sum(sum(hours) for hours in report["by_hour"].values()) == report["contacts"]
    assert sum(row["contacts"] for row in report["per_day"]) == report["contacts"]
    assert report["in_closed_window"] == 0
    assert (
        set(report["per_jurisdiction"])
        and sum(report["per_jurisdiction"].values()) >= (report["contacts"])
    )
    assert {row["case"] for row in report["timeline"]} == {"C1", "C2"}
    assert "Ann One" not in stdout and "+12125550101" not in stdout
    assert "changes" not in report  # only with --against


def test_the_page_counts_each_hour_against_the_shaded_windows(
    deployment: Deployment, tmp_path: Path
) -> None:
    page = tmp_path / "sim.html"
    stdout, _ = _simulate(deployment, tmp_path, "--json", "--html", str(page))
    report = json.loads(stdout)
    text = page.read_text()
    assert "<script" not in text and "http" not in text  # self-contained
    figures = dict(re.findall(r"<figure data-channel='([^']+)'>(.*?)</figure>", text, re.S))
    assert set(figures) == set(report["by_hour"])
    for channel, figure in figures.items():
        bars = {
            int(h): int(n)
            for h, n in re.findall(r'class="bar"[^>]*data-hour="(\d\d)" data-count="(\d+)"', figure)
        }
        assert bars == {h: n for h, n in enumerate(report["by_hour"][channel]) if n}
        shaded = {
            int(h): float(s)
            for h, s in re.findall(
                r'class="window"[^>]*data-hour="(\d\d)" data-open="([\d.]+)"', figure
            )
        }
        # Every hour with a contact is one the channel's window allows; the night is not.
        assert set(bars) <= set(shaded), (channel, bars, shaded)
        assert f"{sum(bars.values())} contacts" in figure
        if channel == "sms":  # the preset's 08:00–21:00, every day
            assert shaded == dict.fromkeys(range(8, 21), 1.0), shaded
        if channel == "voice":  # policy.toml: weekdays 09:00–20:00, Saturdays 10:00–18:00
            assert shaded == {9: 0.71, **dict.fromkeys(range(10, 18), 0.86), 18: 0.71, 19: 0.71}
    sms = figures["sms"]
    assert re.search(r'<text class="count"[^>]*>\d+</text>', sms)  # counts written on bars
    assert re.search(r'<text class="tick"[^>]*>0</text>', sms)  # an axis from 0


def test_suppressions_are_counted_by_reason() -> None:
    at = datetime(2026, 3, 2, 14, tzinfo=UTC)
    contact = Contact("C1", "P1", "sms", "t", "s1", at, ("UTC",), "sent", False, "UTC", ("us-ma",))
    result = SimulationResult(
        at,
        at,
        contacts=[contact],
        suppressed=[("C2", "s1", "opted_out"), ("C3", "s1", "opted_out"), ("C4", "s2", "")],
    )
    assert suppressed_by_reason(result) == {"-": 1, "opted_out": 2}
    report = report_json(result)
    assert report["suppressed_by_reason"] == {"-": 1, "opted_out": 2}
    assert report["per_jurisdiction"] == {"us-ma": 1}
    text = render_html(result)
    assert "<tr data-key='opted_out'><td>opted_out</td><td>2</td></tr>" in text
    assert "<tr data-key='us-ma'><td>us-ma</td><td>1</td></tr>" in text
