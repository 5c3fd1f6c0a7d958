"""`dispatcher check` on configs that used to crash it or pass silently: every one is a
``file:line: key: message`` and exit 1, never a traceback; every problem in one run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result

from tests.config.test_config import check, problems
from tests.conftest import Deployment


def only_problem(result: Result) -> tuple[str, int, str, str]:
    assert result.exit_code == 1, result.output
    found = problems(result)
    assert len(found) == 1, result.output
    return found[0]


def replace_line(path: Path, startswith: str, new: str) -> int:
    """Replace the first line starting with ``startswith``; return its 1-based number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(startswith))
    lines[index] = new
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[1, 2]", "is not a duration"),
        ("{ seconds = 1 }", "is not a duration"),
        ("2020-01-01", "is not a duration"),
        ("10:00:00", "is not a duration"),
        ("inf", "is not a duration"),
        ("nan", "is not a duration"),
        ("1e400", "is not a duration"),
        ("9" * 400, "longer than 100 years"),
        ('"99999999999999999999d"', "longer than 100 years"),
        ('"0s"', "at least 100ms"),
        ('"50ms"', "at least 100ms"),
    ],
)
def test_a_duration_of_any_type_or_size_is_a_message(
    deployment: Deployment, value: str, message: str
) -> None:
    line = replace_line(
        deployment.config / "dispatcher.toml", "poll_interval", f"poll_interval = {value}"
    )

    file, number, key, text = only_problem(check(deployment.config))

    assert (file, number, key) == ("dispatcher.toml", line, "dispatch.poll_interval")
    assert message in text
    assert len(text) < 200  # a huge value is shown cut short


@pytest.mark.parametrize("zone", ["America", "Europe/", "../../etc/passwd", "A" * 300, ""])
def test_a_time_zone_folder_or_odd_name_is_not_a_time_zone(
    deployment: Deployment, zone: str
) -> None:
    line = replace_line(
        deployment.config / "dispatcher.toml", "fallback_timezone", f'fallback_timezone = "{zone}"'
    )

    file, number, key, text = only_problem(check(deployment.config))

    assert (file, number, key) == ("dispatcher.toml", line, "fallback_timezone")
    assert "is not a known time zone" in text


def test_a_non_utf8_config_file_is_reported_at_the_line_of_the_bad_byte(
    deployment: Deployment,
) -> None:
    path = deployment.config / "dispatcher.toml"
    data = path.read_bytes()
    line = data[: data.index(b"Accounts team")].count(b"\n") + 1
    path.write_bytes(data.replace(b"Accounts team", b"Accounts t\xe9am"))

    file, number, key, text = only_problem(check(deployment.config))

    assert (file, number, key) == ("dispatcher.toml", line, "(file)")
    assert text.startswith("not UTF-8: byte 0xe9")


def test_deeply_nested_toml_is_refused(deployment: Deployment) -> None:
    with (deployment.config / "policy.toml").open("a") as handle:
        handle.write("deep = " + "[" * 5000 + "]" * 5000 + "\n")

    file, _, key, text = only_problem(check(deployment.config))

    assert (file, key) == ("policy.toml", "(file)")
    assert "nested too deeply" in text


def test_a_policy_file_that_is_a_directory(deployment: Deployment) -> None:
    (deployment.config / "policy.toml").unlink()
    (deployment.config / "policy.toml").mkdir()

    file, _, key, text = only_problem(check(deployment.config))

    assert (file, key, text) == ("policy.toml", "(file)", "is a directory; expected a TOML file")


def test_a_toml_error_at_the_end_of_the_file_is_reported_at_its_last_line(
    deployment: Deployment,
) -> None:
    path = deployment.config / "policy.toml"
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\nextra = [1,\n"
    path.write_text(text, encoding="utf-8")

    file, number, _, message = only_problem(check(deployment.config))

    assert (file, number) == ("policy.toml", len(text.splitlines()))
    assert "end of document" in message


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 10.0 ** 400 }}", "OverflowError"),
        ('{{ "x" * 10 ** 9 }}', "too large"),
        ("{{ 10 ** 1000000 }}", "too large"),
        ("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", "renders more than 200,000"),
        ("{% macro again() %}{{ again() }}{% endmacro %}{{ again() }}", "recurses"),
    ],
)
def test_a_template_that_fails_as_it_renders_is_reported_at_its_line(
    deployment: Deployment, expression: str, message: str
) -> None:
    template = deployment.config / "templates" / "sms" / "first_notice.en.j2"
    text = template.read_text(encoding="utf-8").rstrip("\n")
    template.write_text(text + "\n" + expression + "\n", encoding="utf-8")

    file, number, key, problem = only_problem(check(deployment.config))

    assert (file, key) == ("templates/sms/first_notice.en.j2", "sms/first_notice.en")
    assert message in problem
    if message in ("ZeroDivisionError", "OverflowError"):
        assert number == len(text.splitlines()) + 1


@pytest.mark.parametrize("voicemail", ["voicemail", "call_script"])
def test_a_voicemail_naming_a_voicemail_is_refused_not_followed(
    deployment: Deployment, voicemail: str
) -> None:
    voice = deployment.config / "templates" / "voice"
    if voicemail == "voicemail":  # the voicemail names itself
        path = voice / "voicemail.en.j2"
        path.write_text('{# meta\nvoicemail = "voicemail"\n#}\n' + path.read_text())
    else:  # the call names itself as its voicemail
        path = voice / "call_script.en.j2"
        path.write_text(
            path.read_text().replace('voicemail = "voicemail"', 'voicemail = "call_script"')
        )

    result = check(deployment.config)

    assert result.exit_code == 1, result.output
    found = problems(result)
    assert any(
        key.endswith(".voicemail") and "cannot name a voicemail of its own" in message
        for _, _, key, message in found
    ), result.output


def test_a_template_symlinked_out_of_the_config_directory_is_refused(
    deployment: Deployment, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("root:x:0:0:do-not-show-this\n")
    template = deployment.config / "templates" / "sms" / "first_notice.en.j2"
    template.unlink()
    template.symlink_to(secret)

    file, _, key, message = only_problem(check(deployment.config))

    assert (file, key) == ("templates/sms/first_notice.en.j2", "sms/first_notice.en")
    assert "outside the config directory" in message
    assert "do-not-show-this" not in check(deployment.config).output


def test_no_locales_is_an_error(deployment: Deployment) -> None:
    line = replace_line(deployment.config / "dispatcher.toml", "locales", "locales = []")

    file, number, key, message = only_problem(check(deployment.config))

    assert (file, number, key) == ("dispatcher.toml", line, "locales")
    assert "no template would be checked" in message


def test_a_missing_policy_file_is_an_error(deployment: Deployment) -> None:
    (deployment.config / "policy.toml").unlink()

    file, _, _, message = only_problem(check(deployment.config))

    assert file == "policy.toml"
    assert "no quiet hours" in message and 'preset = "none"' in message


def test_a_policy_that_sets_nothing_needs_preset_none_written(deployment: Deployment) -> None:
    deployment.write("policy.toml", 'jitter = "20m"\n')

    file, number, _, message = only_problem(check(deployment.config))

    assert (file, number) == ("policy.toml", 1)
    assert 'preset = "none"' in message

    deployment.write("policy.toml", 'preset = "none"\njitter = "20m"\n')
    assert check(deployment.config).exit_code == 0


def test_every_problem_of_every_stage_in_one_run(deployment: Deployment) -> None:
    config = deployment.config
    # A value in dispatcher.toml, a broken schedule, an unknown channel in another, a
    # template that does not render and a letter without approved_by (a template rule,
    # checked once the rest loads): each used to hide the ones after it.
    duration = replace_line(config / "dispatcher.toml", "retry_max_wait", 'retry_max_wait = "soon"')
    schedules = config / "schedules.toml"
    text = schedules.read_text(encoding="utf-8")
    schedules.write_text(
        text.replace('day = 2,  channel = "sms"', 'day = "two",  channel = "sms"').replace(
            'channel = "voice"', 'channel = "fax"'
        ),
        encoding="utf-8",
    )
    template = config / "templates" / "email" / "overdue_email.en.txt.j2"
    template.write_text(template.read_text(encoding="utf-8") + "\n{{ case.nonexistent }}\n")
    letter = config / "templates" / "letter" / "formal_letter.en.j2"
    letter.write_text(re.sub(r"(?m)^approved_by = .*\n", "", letter.read_text(encoding="utf-8")))

    result = check(config)

    assert result.exit_code == 1
    keys = {(file, key) for file, _, key, _ in problems(result)}
    assert ("dispatcher.toml", "dispatch.retry_max_wait") in keys, result.output
    assert ("schedules.toml", "schedules.gentle.steps[0].day") in keys, result.output
    assert any(f == "schedules.toml" and k.endswith(".channel") for f, k in keys), result.output
    assert ("templates/email/overdue_email.en.txt.j2", "email/overdue_email.en") in keys
    assert ("templates/letter/formal_letter.en.j2", "letter/formal_letter.en.approved_by") in keys
    assert ("dispatcher.toml", duration) in {(f, n) for f, n, _, _ in problems(result)}


def test_check_output_shows_control_characters_escaped(deployment: Deployment) -> None:
    line = replace_line(
        deployment.config / "dispatcher.toml",
        "fallback_timezone",
        'fallback_timezone = "Mars\\u001b]8;;http://x\\u0007"',
    )

    result = check(deployment.config)

    assert result.exit_code == 1
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert f"dispatcher.toml:{line}: fallback_timezone:" in result.output
    assert "\\x1b]8;;http://x\\x07" in result.output


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("template", "x" * 5000, "is not a template name"),
        ("template", "../../../etc/passwd", "is not a template name"),
        ("channel", "x" * 5000, "unknown channel"),
    ],
)
def test_a_step_naming_a_file_the_file_system_refuses(
    deployment: Deployment, key: str, value: str, message: str
) -> None:
    schedules = deployment.config / "schedules.toml"
    text = schedules.read_text(encoding="utf-8")
    old = 'template = "first_notice"' if key == "template" else 'channel = "sms"'
    schedules.write_text(text.replace(old, f'{key} = "{value}"', 1), encoding="utf-8")

    file, _, found, problem = only_problem(check(deployment.config))

    assert (file, found) == ("schedules.toml", f"schedules.standard.steps[0].{key}")
    assert message in problem and len(problem) < 300


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Caf\xe9 {{ company }}\n", "not UTF-8: byte 0xe9"),
        (b"{{ " + b"(" * 3000 + b"1" + b")" * 3000 + b" }}\n", "nested too deeply"),
        (b"{# meta\nsubject = [[[[\n#}\nHello\n", "meta block is not valid TOML"),
    ],
)
def test_a_template_that_cannot_be_loaded_is_reported_not_raised(
    deployment: Deployment, content: bytes, message: str
) -> None:
    (deployment.config / "templates" / "sms" / "first_notice.en.j2").write_bytes(content)

    file, _, key, problem = only_problem(check(deployment.config))

    assert (file, key) == ("templates/sms/first_notice.en.j2", "sms/first_notice.en")
    assert message in problem
