"""A template that fails as it renders for one person (a division by zero `check` could not
see with its sample data) fails that one reminder, clearly; the daemon sends the others."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.store import schema
from tests.conftest import Deployment, seed, stop, wait_for


def reminder_of(dep: Deployment, case_id: str):  # type: ignore[no-untyped-def]
    store = dep.store()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            select(schema.reminders).where(schema.reminders.c.case_id == case_id)
        ).one()
    store.close()
    return row


def test_a_template_raising_for_one_person_fails_only_that_reminder(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    template = dep.config / "templates" / "sms" / "first_notice.en.j2"
    template.write_text(
        template.read_text() + '\n{% if person.id == "P0" %}{{ 1 / 0 }}{% endif %}\n'
    )
    assert dep.cli("check").returncode == 0  # the sample person is not P0
    seed(dep, 2)

    process = dep.start()
    try:
        wait_for(lambda: reminder_of(dep, "C0").state == "failed", timeout=30)
        wait_for(lambda: reminder_of(dep, "C1").state == "sent", timeout=30)
        assert process.poll() is None, "the daemon is still running"
    finally:
        output = stop(process)

    assert process.returncode == 0, output
    failed = reminder_of(dep, "C0")
    assert failed.last_reason == "template_error", failed
    assert [line["case_id"] for line in dep.outbox_lines()] == ["C1"]
    assert "ZeroDivisionError: division by zero" in output
    assert "Traceback" not in output
