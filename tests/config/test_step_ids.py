"""Step ids in ``schedules.toml`` as ``dispatcher check`` reports them: ``repeat.step`` names
an id (a position is refused, it named another step once one was inserted), ids are unique
in a schedule (derived ones too), and an id has a fixed shape."""

from __future__ import annotations

import pytest

from tests.conftest import Deployment


def _check(dep: Deployment) -> tuple[int, str]:
    result = dep.cli("check", "--no-secrets")
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_the_example_names_its_steps_and_checks_clean(deployment: Deployment) -> None:
    code, text = _check(deployment)
    assert code == 0, text
    assert "store: not created yet, nothing planned to compare with" in text


@pytest.mark.parametrize(
    ("pattern", "replacement", "message"),
    [
        (
            r'^step = "letter".*$',
            "step = 4",
            "repeat.step = 4 is a position; name the step by its id",
        ),
        (r'^step = "letter".*$', 'step = "leter"', "repeat.step 'leter' names no step"),
        (r'id = "call",  ', 'id = "notice",', "steps 1 and 2 have the same id 'notice'"),
        (r'id = "call",  ', 'id = "a b",   ', "'a b' is not a step id"),
        (r'id = "call",  ', 'id = "x+1",   ', "'x+1' is not a step id"),
    ],
)
def test_step_id_mistakes_are_named(
    deployment: Deployment, pattern: str, replacement: str, message: str
) -> None:
    deployment.set("schedules.toml", pattern, replacement)
    code, text = _check(deployment)
    assert code == 1
    assert "schedules.toml" in text and message in text, text
    assert "Traceback" not in text


def test_two_steps_with_one_channel_and_template_need_ids(deployment: Deployment) -> None:
    deployment.set("schedules.toml", r'id = "call",   ', "")
    deployment.set("schedules.toml", r'id = "notice", ', "")
    deployment.set(
        "schedules.toml",
        r'channel = "voice",  template = "call_script"',
        'channel = "sms",    template = "first_notice"',
    )
    code, text = _check(deployment)
    assert code == 1
    assert (
        "the same id 'sms/first_notice' (derived from channel/template: give each an `id`)" in text
    )
