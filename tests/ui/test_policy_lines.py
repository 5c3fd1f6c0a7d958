"""The console's policy page says to which phone lines a limit is narrowed (the us-ma
overlay's two call rules), and nothing more of a limit that is not."""

from __future__ import annotations

from dispatcher.config import PolicyFile
from dispatcher.policy.presets import effective_policy
from dispatcher.ui.policy_view import rule_rows


def test_a_limit_narrowed_to_lines_names_them() -> None:
    source = effective_policy(
        PolicyFile.model_validate({"preset": "us-reg-f", "overlays": ["us-ma"]})
    )
    what = {row.name: row.what for row in rule_rows(source) if row.kind == "limits"}
    assert (
        what["ma-calls-texts"] == "at most 2 per 7d (case; to residence, mobile, unknown numbers)"
    )
    assert what["ma-calls-texts-other-numbers"] == (
        "at most 2 per 30d (case; to work, other, unknown numbers)"
    )
    assert what["call-frequency"] == "at most 7 per 7d (case)"
