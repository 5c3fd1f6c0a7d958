"""A call template names its voicemail (``voicemail`` meta key): the voicemail renders with the
call, and ``check`` holds it to the limited-content rules (Reg F §1006.2(j)) whatever the
channel."""

from __future__ import annotations

from pathlib import Path

from dispatcher.config.templates import sample_context
from dispatcher.runtime import load_runtime
from tests.config.test_template_rules import check, config_dir  # noqa: F401 (a fixture)

VOICE = "templates/voice"


def test_the_voicemail_renders_with_the_call(config_dir: Path) -> None:  # noqa: F811
    templates = load_runtime(config_dir).config.templates
    rendered = templates.render("voice", "call_script", "zh-CN", sample_context())
    assert rendered.meta["voicemail"] == "voicemail"
    assert rendered.meta["voicemail_body"].startswith("您好，这是示例借贷公司给")
    assert "voicemail_body" not in templates.meta("voice", "call_script", "zh-CN")


def test_a_voicemail_naming_the_debt_is_rejected_even_off_voicemail_channels(
    config_dir: Path,  # noqa: F811
) -> None:
    policy = config_dir / "policy.toml"
    policy.write_text(
        policy.read_text().replace(
            'preset = "us-reg-f"', 'preset = "us-reg-f"\nvoicemail_channels = []'
        )
    )
    assert check(config_dir)[0] == 0
    (config_dir / VOICE / "voicemail.en.j2").write_text(
        "This is {{ company }} about {{ case.amount }}.\n"
    )
    code, output = check(config_dir)
    assert code == 1
    assert f"{VOICE}/voicemail.en.j2:1: voice/voicemail.en:" in output
    assert "case.amount is not allowed" in output


def test_a_missing_voicemail_is_reported_against_the_call_template(
    config_dir: Path,  # noqa: F811
) -> None:
    (config_dir / VOICE / "voicemail.zh-CN.j2").unlink()
    (config_dir / VOICE / "voicemail.en.j2").unlink()
    code, output = check(config_dir)
    assert code == 1
    assert f"{VOICE}/call_script.en.j2:1: voice/call_script.en:" in output
    assert "'voicemail' for channel voice" in output
