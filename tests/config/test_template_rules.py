"""``check`` enforces the template rules: limited-content voicemails, approved letters, and
``allowed_after_cease`` and ``allowed_states`` the same in every locale."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dispatcher.cli import main

EXAMPLE_CONFIG = Path(__file__).parents[2] / "config"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, root)
    settings = root / "dispatcher.toml"
    text = re.sub(
        r"^store = .*$",
        f'store = "sqlite:///{tmp_path / "db.sqlite"}"',
        settings.read_text(),
        flags=re.MULTILINE,
    )
    settings.write_text(text)
    return root


def check(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", str(root)], env={"COLUMNS": "400"})
    return result.exit_code, result.output


def test_the_example_templates_keep_every_rule(config_dir: Path) -> None:
    code, output = check(config_dir)
    assert code == 0, output


def test_a_voicemail_naming_the_amount_is_rejected(config_dir: Path) -> None:
    path = config_dir / "templates/voice/call_script.en.j2"
    path.write_text("Hello, this is {{ company }}. You have {{ case.amount }} to pay.\n")
    code, output = check(config_dir)
    assert code == 1
    assert "templates/voice/call_script.en.j2:1: voice/call_script.en:" in output
    assert "case.amount is not allowed" in output


def test_a_voicemail_saying_what_the_call_is_about_is_rejected(config_dir: Path) -> None:
    path = config_dir / "templates/voice/call_script.zh-CN.j2"
    path.write_text(
        "您好，这里是{{ company_zh }}。\n关于您的逾期账款，请回电 {{ callback_number }}。\n"
    )
    code, output = check(config_dir)
    assert code == 1
    assert "templates/voice/call_script.zh-CN.j2:2:" in output and "逾期" in output


def test_a_letter_without_approved_by_is_rejected(config_dir: Path) -> None:
    path = config_dir / "templates/letter/formal_letter.en.j2"
    text = path.read_text()
    path.write_text(re.sub(r"(?s)^\{# meta.*?#\}\n", "", text))
    code, output = check(config_dir)
    assert code == 1
    assert "templates/letter/formal_letter.en.j2:1: letter/formal_letter.en.approved_by:" in output


def test_allowed_after_cease_must_agree_across_locales(config_dir: Path) -> None:
    path = config_dir / "templates/letter/formal_letter.en.j2"
    path.write_text(path.read_text().replace("#}", "allowed_after_cease = true\n#}", 1))
    code, output = check(config_dir)
    assert code == 1
    assert "letter/formal_letter.allowed_after_cease: differs between locales" in output


def test_allowed_after_cease_must_be_a_boolean(config_dir: Path) -> None:
    for locale in ("en", "zh-CN"):
        path = config_dir / f"templates/letter/formal_letter.{locale}.j2"
        path.write_text(path.read_text().replace("#}", 'allowed_after_cease = "yes"\n#}', 1))
    code, output = check(config_dir)
    assert code == 1
    assert "allowed_after_cease: must be true or false" in output


def _flag(config_dir: Path, locale: str, line: str) -> None:
    path = config_dir / f"templates/letter/formal_letter.{locale}.j2"
    path.write_text(path.read_text().replace("#}", f"{line}\n#}}", 1))


def test_a_letter_to_the_estate_keeps_every_rule(config_dir: Path) -> None:
    for locale in ("en", "zh-CN"):
        _flag(config_dir, locale, 'allowed_states = ["deceased", "bankrupt"]')
    code, output = check(config_dir)
    assert code == 0, output


def test_allowed_states_must_agree_across_locales(config_dir: Path) -> None:
    _flag(config_dir, "en", 'allowed_states = ["deceased"]')
    code, output = check(config_dir)
    assert code == 1
    assert "letter/formal_letter.allowed_states: differs between locales" in output


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"deceased"', "must be a list of states (bankrupt, deceased)"),
        ('["ceased"]', "'ceased' is not a state a template may be allowed in"),
    ],
)
def test_allowed_states_names_only_bankrupt_or_deceased(
    config_dir: Path, value: str, words: str
) -> None:
    for locale in ("en", "zh-CN"):
        _flag(config_dir, locale, f"allowed_states = {value}")
    code, output = check(config_dir)
    assert code == 1
    assert (
        "templates/letter/formal_letter.en.j2:1: letter/formal_letter.en.allowed_states:" in output
    )
    assert words in output


def test_the_limited_content_variables_are_configurable(config_dir: Path) -> None:
    path = config_dir / "templates/voice/call_script.en.j2"
    path.write_text("Hello from {{ company }}, reference {{ case.id }}.\n")
    assert check(config_dir)[0] == 1
    policy = config_dir / "policy.toml"
    policy.write_text(
        'limited_content_vars = ["company", "company_zh", "callback_number", '
        '"contact_person", "contact_person_zh", "person.name", "person.first_name", "case.id"]\n'
        + policy.read_text()
    )
    code, output = check(config_dir)
    assert code == 0, output
