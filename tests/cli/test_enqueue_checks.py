"""``enqueue`` refuses what could never be sent, before anything is stored: an unknown
channel, template or case is a clear error and exit 1, and no reminder is added."""

from __future__ import annotations

import pytest

from tests.conftest import Deployment, seed


def _reminder_count(dep: Deployment) -> int:
    store = dep.store()
    try:
        return len(store.case_history("C0").reminders)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("case", "channel", "template", "message"),
    [
        ("C0", "fax", "first_notice", "unknown channel 'fax'"),
        ("C0", "sms", "nope", "unknown template: template 'nope' for channel sms"),
        ("C0", "sms", "overdue_email", "unknown template: template 'overdue_email'"),
        ("NOPE", "sms", "first_notice", "no case 'NOPE'"),
    ],
)
def test_enqueue_refuses_what_is_not_configured(
    open_deployment: Deployment, case: str, channel: str, template: str, message: str
) -> None:
    seed(open_deployment, 1)
    before = _reminder_count(open_deployment)
    result = open_deployment.cli(
        "enqueue", "--case", case, "--channel", channel, "--template", template
    )
    assert (result.returncode, result.stdout) == (2, ""), result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert _reminder_count(open_deployment) == before


def test_enqueue_accepts_a_template_found_through_the_locale_fallback(
    open_deployment: Deployment,
) -> None:
    seed(open_deployment, 1)
    (open_deployment.config / "templates" / "sms" / "only_english.en.j2").write_text("Hi\n")
    result = open_deployment.cli(
        "enqueue", "--case", "C0", "--channel", "sms", "--template", "only_english"
    )
    assert result.returncode == 0, result.stderr
    assert "queued" in result.stdout
