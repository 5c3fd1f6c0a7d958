"""``simulate --config NEW --against OLD`` reads as OLD → NEW: a step the new config adds is
"added" with an instant only under NEW, instants are in the person's local time, and the
HTML page shows the same difference."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from dispatcher.cli import main
from tests.conftest import Deployment

DATA = (
    "person_id,name,locale,timezone,phone,email,address,case_id,amount,currency,due_date,"
    "schedule\n"
    "P1,Ann One,en,America/New_York,+12125550101,a@example.com,,C1,500.00,USD,2026-03-01,"
    "standard\n"
)
NUDGE = (
    '  { id = "nudge",  day = 5,  channel = "sms",    template = "first_notice",  at = "10:00" },\n'
)


def test_against_reads_old_to_new_in_local_time_in_terminal_and_page(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    dep = open_deployment
    old = tmp_path / "old-config"
    shutil.copytree(dep.config, old)
    path = dep.config / "schedules.toml"  # the new config: a day-5 SMS after the call
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(next(i for i, x in enumerate(lines) if 'id = "call"' in x) + 1, NUDGE)
    path.write_text("".join(lines))
    data = tmp_path / "people.csv"
    data.write_text(DATA)
    page = tmp_path / "sim.html"
    args = ["--config", str(dep.config), "simulate", "--days", "12", "--data", str(data)]
    args += ["--start", "2026-03-02", "--against", str(old), "--html", str(page)]
    result = CliRunner().invoke(main, args, env={"COLUMNS": "250"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    summary = f"{old} → {dep.config}: 1 added, 0 removed, 0 moved"
    assert summary in result.output
    added = [x for x in result.output.splitlines() if "nudge" in x]
    # Before (OLD) is empty, after (NEW) is day 5 (2026-03-06) at 10:00 New York (15:00 UTC).
    assert len(added) == 1 and "added" in added[0], result.output
    before, after = added[0].split("America/New_York")[1].split("│")[1:3]
    assert before.strip() == "-" and after.strip() == "2026-03-06 Fri 10:00"
    text = page.read_text()
    assert summary in text
    assert "<td>nudge</td><td>sms</td><td>America/New_York</td><td>-</td>" in text
    assert "<td>2026-03-06 Fri 10:00</td>" in text
