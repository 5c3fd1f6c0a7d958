"""``explain`` names the rule and layer behind each reason, and the time zone used and why."""

from __future__ import annotations

from datetime import UTC, date, datetime

from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.policy import decide
from dispatcher.runtime import load_runtime
from dispatcher.store.api import CaseIn, NewReminder, PersonIn
from tests.conftest import Deployment

NIGHT_IN_NEW_YORK = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)  # 23:00 the evening before


def test_explain_shows_rule_preset_and_zone(deployment: Deployment) -> None:
    runtime = load_runtime(deployment.config)
    store = deployment.store()
    store.upsert(
        [
            PersonIn(
                "P1",
                "Pat Example",
                "en",
                None,
                ("+12125550147",),
                ("p@example.com",),
                ("1 Example Street\nLos Angeles, CA 90012",),
            )
        ],
        [CaseIn("C1", "P1", "100.00", "USD", date(2026, 6, 1), "standard")],
        NIGHT_IN_NEW_YORK,
    )
    store.enqueue(
        NewReminder("C1", "P1", "adhoc", "a1", "sms", "first_notice", NIGHT_IN_NEW_YORK),
        NIGHT_IN_NEW_YORK,
    )
    batch = store.claim_due(
        NIGHT_IN_NEW_YORK,
        10,
        lambda r, p, c, h: decide(runtime.policy, r, p, c, h, NIGHT_IN_NEW_YORK),
        runtime.policy.lookback,
    )
    store.close()
    [(_, decision)] = batch.decided
    assert decision.reasons[0].rule == "preset us-reg-f: windows.inconvenient-time"

    result = CliRunner().invoke(
        main, ["--config", str(deployment.config), "explain", "C1"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "policy: preset us-reg-f + policy.toml" in text
    assert (
        "time zone used: America/Los_Angeles, America/New_York — from the phone numbers and "
        "postal address on file (a contact must be allowed in every one); steps are planned at "
        "their `at` time in America/Los_Angeles"
    ) in text
    assert "[preset us-reg-f: windows.inconvenient-time]" in text, result.output
    assert "+12125550147" not in result.output
