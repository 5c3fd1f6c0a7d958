"""Config loading and `dispatcher check`: every problem as ``file:line: key: message``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dispatcher.cli import main
from dispatcher.config import resolve_secret
from dispatcher.config.durations import parse_duration
from dispatcher.config.tomlpos import KeyLines
from dispatcher.runtime import load_runtime

EXAMPLE_CONFIG = Path(__file__).parents[2] / "config"
PROBLEM = re.compile(r"^(?P<file>\S+):(?P<line>\d+): (?P<key>\S+): (?P<message>.*)$")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, root)
    settings = root / "dispatcher.toml"
    store = f'store = "sqlite:///{tmp_path / "db.sqlite"}"'
    text, count = re.subn(r"^store = .*$", store, settings.read_text(), flags=re.MULTILINE)
    assert count == 1
    settings.write_text(text)
    return root


def check(root: Path) -> Result:
    # A fixed wide console: these tests check content; the piped case has its own test.
    return CliRunner().invoke(
        main, ["check", str(root)], env={"COLUMNS": "400"}, catch_exceptions=False
    )


def problems(result: Result) -> list[tuple[str, int, str, str]]:
    found = []
    for line in result.output.splitlines():
        match = PROBLEM.match(line)
        if match:
            found.append((match["file"], int(match["line"]), match["key"], match["message"]))
    return found


def edit(path: Path, old: str, new: str, *, after: str | None = None) -> int:
    """Replace the first ``old`` (after the first line containing ``after``) and return the
    1-based line the replacement is on."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    for index in range(start, len(lines)):
        if old in lines[index]:
            lines[index] = lines[index].replace(old, new, 1)
            path.write_text("\n".join(lines), encoding="utf-8")
            return index + 1
    raise AssertionError(f"{old!r} not found in {path}")


def insert_after(path: Path, anchor: str, new_line: str) -> int:
    """Insert ``new_line`` after the first line containing ``anchor``; return its line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if anchor in line)
    lines.insert(index + 1, new_line)
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 2


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def step_index(root: Path, schedule: str, channel: str) -> int:
    parsed = tomllib.loads((root / "schedules.toml").read_text(encoding="utf-8"))
    steps = parsed["schedules"][schedule]["steps"]
    return next(i for i, step in enumerate(steps) if step["channel"] == channel)


def test_the_example_config_passes(config_dir: Path) -> None:
    result = check(config_dir)

    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert problems(result) == []


def test_every_problem_is_listed_with_its_file_line_and_key(config_dir: Path) -> None:
    voice = step_index(config_dir, "standard", "voice")
    gentle_email = step_index(config_dir, "gentle", "email")
    policy = config_dir / "policy.toml"
    schedules = config_dir / "schedules.toml"
    template = config_dir / "templates" / "email" / "overdue_email.en.txt.j2"

    per_line = edit(policy, 'per = "30d"', 'per = "30x"', after="[[limits]]")
    fax_line = edit(schedules, 'channel = "voice"', 'channel = "fax"', after="[schedules.standard]")
    nope_line = edit(
        schedules, 'template = "overdue_email"', 'template = "nope"', after="[schedules.gentle]"
    )
    undefined_line = insert_after(template, "Dear {{ person.name }}", "Ref: {{ case.nonexistent }}")

    result = check(config_dir)

    assert result.exit_code == 1, result.output
    found = problems(result)
    assert {(file, line, key) for file, line, key, _ in found} == {
        ("policy.toml", per_line, "limits[0].per"),
        ("schedules.toml", fax_line, f"schedules.standard.steps[{voice}].channel"),
        ("schedules.toml", nope_line, f"schedules.gentle.steps[{gentle_email}].template"),
        ("templates/email/overdue_email.en.txt.j2", undefined_line, "email/overdue_email.en"),
    }, result.output
    messages = {(file, key): message for file, _, key, message in found}
    assert messages[("policy.toml", "limits[0].per")].startswith("'30x' is not a duration")
    assert messages[("schedules.toml", f"schedules.standard.steps[{voice}].channel")].startswith(
        "unknown channel 'fax'"
    )
    assert (
        "template 'nope'"
        in messages[("schedules.toml", f"schedules.gentle.steps[{gentle_email}].template")]
    )
    undefined = messages[("templates/email/overdue_email.en.txt.j2", "email/overdue_email.en")]
    assert undefined.startswith("undefined variable:") and "nonexistent" in undefined
    assert f"{len(found)} problem(s)" in result.output


def test_problems_are_one_per_line_when_output_is_piped(config_dir: Path) -> None:
    # ExecReload= and CI capture the output without a terminal; a problem wrapped over two
    # lines loses its tail to anything reading `file:line: key: message` lines.
    edit(config_dir / "schedules.toml", 'channel = "voice"', 'channel = "fax"')
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dispatcher"), "check", str(config_dir)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
        timeout=120,
    )

    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("schedules.toml:")]
    assert len(lines) == 1, result.stdout
    assert lines[0].endswith(
        "(channels in dispatcher.toml: email, field_visit, letter, sms, voice)"
    ), result.stdout


def test_invalid_toml_reports_its_line_and_other_files_are_still_checked(
    config_dir: Path,
) -> None:
    bad_line = edit(config_dir / "policy.toml", "max = 3", "max = = 3")
    unknown_line = insert_after(config_dir / "dispatcher.toml", "concurrency = 32", "workers = 4")

    result = check(config_dir)

    assert result.exit_code == 1
    found = problems(result)
    toml = [p for p in found if p[0] == "policy.toml"]
    assert len(toml) == 1
    assert toml[0][1] == bad_line
    assert toml[0][3].startswith("not valid TOML")
    assert ("dispatcher.toml", unknown_line, "dispatch.workers", "unknown key") in found


def test_unknown_keys_are_reported_where_they_are(config_dir: Path) -> None:
    top = insert_after(config_dir / "policy.toml", 'preset = "', 'presets = "cn"')
    step = edit(
        config_dir / "schedules.toml",
        'at = "10:00" }',
        'at = "10:00", tone = "firm" }',
        after="[schedules.standard]",
    )
    sms = step_index(config_dir, "standard", "sms")

    result = check(config_dir)

    assert result.exit_code == 1
    found = problems(result)
    assert ("policy.toml", top, "presets", "unknown key") in found
    assert (
        "schedules.toml",
        step,
        f"schedules.standard.steps[{sms}].tone",
        "unknown key",
    ) in found


def test_bad_time_zone(config_dir: Path) -> None:
    line = edit(
        config_dir / "dispatcher.toml",
        'fallback_timezone = "America/New_York"',
        'fallback_timezone = "Mars/Olympus"',
    )

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == ("dispatcher.toml", line, "fallback_timezone")
    assert message.startswith("'Mars/Olympus' is not a known time zone")


def test_bad_cron_expression(config_dir: Path) -> None:
    line = edit(config_dir / "schedules.toml", 'cron = "*/5 * * * *"', 'cron = "*/5 * * *"')

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == ("schedules.toml", line, "jobs.plan.cron")
    assert message.startswith("'*/5 * * *' is not a cron expression")


def test_window_from_equal_to_is_empty(config_dir: Path) -> None:
    policy = config_dir / "policy.toml"
    lines = policy.read_text(encoding="utf-8").split("\n")
    headers = [i for i, line in enumerate(lines) if line.strip() == "[[windows]]"]
    last = len(headers) - 1
    block = range(headers[last] + 1, len(lines))
    start = next(i for i in block if lines[i].startswith("from = "))
    end = next(i for i in block if lines[i].startswith("to = "))
    lines[start] = "from = " + lines[end].split("=", 1)[1].strip()
    policy.write_text("\n".join(lines), encoding="utf-8")

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == ("policy.toml", headers[last] + 1, f"windows[{last}]")
    assert "from and to are equal" in message


def test_unknown_job_is_reported_at_the_job(config_dir: Path) -> None:
    schedules = config_dir / "schedules.toml"
    line = insert_after(schedules, 'cron = "*/5 * * * *"', '\n[jobs.nightly]\ncron = "0 3 * * *"')
    job_line = line + 1  # the inserted text starts with a blank line

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert file == "schedules.toml"
    assert key in ("jobs", "jobs.nightly")
    assert message.startswith("unknown job 'nightly'")
    assert number == job_line, result.output


# ---------------------------------------------------------------------------------------------
# Secrets


def use_secret(root: Path, reference: str) -> int:
    return edit(
        root / "dispatcher.toml",
        'directory = "var/outbox"',
        f'directory = "{reference}"',
        after="[channels.email]",
    )


def test_missing_environment_variable_is_an_error_naming_it(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCHER_TEST_OUTBOX", raising=False)
    line = use_secret(config_dir, "${DISPATCHER_TEST_OUTBOX}")

    result = check(config_dir)

    assert result.exit_code == 1
    assert problems(result) == [
        (
            "dispatcher.toml",
            line,
            "channels.email.directory",
            "environment variable DISPATCHER_TEST_OUTBOX is not set",
        )
    ]


def test_environment_variable_is_resolved(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "secret-outbox"
    monkeypatch.setenv("DISPATCHER_TEST_OUTBOX", str(outbox))
    use_secret(config_dir, "${DISPATCHER_TEST_OUTBOX}")

    assert check(config_dir).exit_code == 0
    runtime = load_runtime(config_dir)
    assert runtime.config.channel_settings["email"].directory == outbox
    assert runtime.config.channel_settings["sms"].directory == Path("var/outbox")


def test_a_bad_secret_value_is_never_printed(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outbox's `contact` takes phone, email or postal: a secret holding something else
    # is a config error, reported without the secret's value.
    monkeypatch.setenv("DISPATCHER_TEST_SECRET", "s3cr3t-token-value")
    edit(
        config_dir / "dispatcher.toml",
        'contact = "email"',
        'contact = "${DISPATCHER_TEST_SECRET}"',
        after="[channels.email]",
    )

    result = check(config_dir)

    assert result.exit_code == 1
    assert "channels.email.contact" in result.output
    assert "s3cr3t-token-value" not in result.output


def test_credential_is_read_from_the_credentials_directory(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    outbox = tmp_path / "from-credential"
    (credentials / "outbox-dir").write_text(f"{outbox}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    use_secret(config_dir, "credential:outbox-dir")

    assert check(config_dir).exit_code == 0
    runtime = load_runtime(config_dir)
    assert runtime.config.channel_settings["email"].directory == outbox


def test_missing_credential_is_an_error_naming_it(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    line = use_secret(config_dir, "credential:outbox-dir")

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == ("dispatcher.toml", line, "channels.email.directory")
    assert "credential outbox-dir" in message


def test_resolve_secret() -> None:
    assert resolve_secret("${TOKEN}", {"TOKEN": "s3cret"}) == "s3cret"
    assert resolve_secret("plain value", {}) == "plain value"
    assert resolve_secret("$TOKEN", {"TOKEN": "s3cret"}) == "$TOKEN"
    with pytest.raises(ValueError, match="TOKEN"):
        resolve_secret("${TOKEN}", {})
    with pytest.raises(ValueError, match="CREDENTIALS_DIRECTORY is not set"):
        resolve_secret("credential:api-token", {})


# ---------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("0s", timedelta(0)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations_parse(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7x", "", "h", "1h30", "-5m", "5 minutes", "1.5.5h", "d7"])
def test_bad_durations_raise_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("value", [-1, True])
def test_bad_duration_values_raise(value: object) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        parse_duration(value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Key lines

DOCUMENT = """\
# a comment = not a key
preset = "none"
a.b.c = 1

[table]
plain = 1
dotted.key = 2
"quoted.key" = 3
inline = { x = 1, y = "two" }

[table.sub]
deep = true

[[rules]]
max = 1

[[rules]]
# second rule
max = 2
per = "1d"   # a comment with [brackets]

[schedules.standard]
steps = [
  { day = 1, channel = "sms", template = "a" },
  # a comment between elements
  { day = 3,
    channel = "voice" },
  { day = 7, channel = "email", channels = ["x", "y"] },
]
after = "array"
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("preset",), 2),
        (("a", "b", "c"), 3),
        (("table",), 5),
        (("table", "plain"), 6),
        (("table", "dotted", "key"), 7),
        (("table", "quoted.key"), 8),
        (("table", "inline"), 9),
        (("table", "inline", "y"), 9),
        (("table", "sub"), 11),
        (("table", "sub", "deep"), 12),
        (("rules",), 14),
        (("rules", 0), 14),
        (("rules", 0, "max"), 15),
        (("rules", 1), 17),
        (("rules", 1, "max"), 19),
        (("rules", 1, "per"), 20),
        (("schedules", "standard", "steps"), 23),
        (("schedules", "standard", "steps", 0), 24),
        (("schedules", "standard", "steps", 0, "channel"), 24),
        (("schedules", "standard", "steps", 1), 26),
        (("schedules", "standard", "steps", 2), 28),
        (("schedules", "standard", "steps", 2, "channels"), 28),
        (("schedules", "standard", "after"), 30),
    ],
)
def test_key_lines(path: tuple[str | int, ...], line: int) -> None:
    assert KeyLines(DOCUMENT).line_of(path) == line


def test_key_lines_fall_back_to_the_nearest_enclosing_key() -> None:
    lines = KeyLines(DOCUMENT)

    assert lines.line_of(("rules", 1, "channels")) == 17
    assert lines.line_of(("schedules", "standard", "steps", 1, "at")) == 26
    assert lines.line_of(("table", "inline", "z")) == 9
    assert lines.line_of(("nowhere",)) == 1
    assert lines.line_of(()) == 1


def test_key_lines_with_several_inline_tables_on_one_line() -> None:
    text = """\
steps = [
  { day = 1, channel = "sms" }, { day = 2, channel = "email" },
  { day = 3, channel = "letter" },
]
"""
    lines = KeyLines(text)

    assert lines.line_of(("steps", 0)) == 2
    assert lines.line_of(("steps", 1)) == 2
    assert lines.line_of(("steps", 2)) == 3


def test_key_lines_of_the_example_schedules() -> None:
    text = (EXAMPLE_CONFIG / "schedules.toml").read_text(encoding="utf-8")
    lines = KeyLines(text)
    numbered = text.split("\n")
    gentle = step_index(EXAMPLE_CONFIG, "gentle", "email")
    expected = 1 + next(
        i
        for i, line in enumerate(numbered)
        if i > numbered.index("[schedules.gentle]") and 'channel = "email"' in line
    )

    assert lines.line_of(("schedules", "gentle", "steps", gentle, "template")) == expected
    assert lines.line_of(("jobs", "plan", "cron")) == 1 + next(
        i for i, line in enumerate(numbered) if line.startswith("cron = ")
    )


# ---------------------------------------------------------------------------------------------
# Templates


def test_template_syntax_error_reports_file_and_line(config_dir: Path) -> None:
    template = config_dir / "templates" / "email" / "overdue_email.en.txt.j2"
    line = edit(template, "{{ case.id }}", "{{ case.id }")

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == (
        "templates/email/overdue_email.en.txt.j2",
        line,
        "email/overdue_email.en",
    )
    assert message.startswith("syntax error")


def test_undefined_variable_in_a_localised_template(config_dir: Path) -> None:
    template = config_dir / "templates" / "letter" / "formal_letter.zh-CN.j2"
    line = insert_after(template, "{{ callback_number }}", "{{ undefined_thing }}")

    result = check(config_dir)

    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == (
        "templates/letter/formal_letter.zh-CN.j2",
        line,
        "letter/formal_letter.zh-CN",
    )
    assert message.startswith("undefined variable:") and "undefined_thing" in message


def test_template_missing_for_one_locale_falls_back(config_dir: Path) -> None:
    (config_dir / "templates" / "sms" / "first_notice.zh-CN.j2").unlink()

    result = check(config_dir)

    assert result.exit_code == 0, result.output


def test_template_missing_entirely_is_reported_at_the_step(config_dir: Path) -> None:
    for path in (config_dir / "templates" / "voice").glob("call_script.*.j2"):
        path.unlink()
    voice = step_index(config_dir, "standard", "voice")
    step_line = line_of(config_dir / "schedules.toml", 'channel = "voice"')

    result = check(config_dir)

    assert result.exit_code == 1
    found = problems(result)
    assert found, result.output
    for file, number, key, message in found:
        assert (file, number, key) == (
            "schedules.toml",
            step_line,
            f"schedules.standard.steps[{voice}].template",
        )
        assert "template 'call_script'" in message and "not found" in message
    assert any("locale zh-CN" in message for *_, message in found)
    assert any("locale en" in message for *_, message in found)


def test_the_arrangement_schedule_must_name_a_schedule(config_dir: Path) -> None:
    line = edit(config_dir / "schedules.toml", 'schedule = "instalments"', 'schedule = "nope"')
    result = check(config_dir)
    assert result.exit_code == 1
    [(file, _, _, message)] = problems(result)
    assert file == "schedules.toml"
    assert "arrangements.schedule = 'nope' names no schedule" in message
    assert line > 0


def test_the_schedule_name_arrangement_is_reserved(config_dir: Path) -> None:
    edit(config_dir / "schedules.toml", "[schedules.gentle]", "[schedules.arrangement]")
    result = check(config_dir)
    assert result.exit_code == 1
    assert any("'arrangement' is reserved" in p[3] for p in problems(result))


def test_arrangement_bounds_are_checked(config_dir: Path) -> None:
    line = edit(config_dir / "policy.toml", 'min_share = "0.05"', 'min_share = "1.5"')
    result = check(config_dir)
    assert result.exit_code == 1
    [(file, number, key, message)] = problems(result)
    assert (file, number, key) == ("policy.toml", line, "arrangements.min_share")
    assert "less than or equal to 1" in message
