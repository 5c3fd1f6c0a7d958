"""The operator's commands against a real store: event, enqueue, status, explain, plugins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dispatcher.store import schema
from tests.conftest import Deployment, seed


def _reminders(dep: Deployment) -> list:
    store = dep.store()
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(schema.reminders).order_by(schema.reminders.c.id)).all()
    store.close()
    return rows


def test_event_paid_cancels_pending_reminders(open_deployment: Deployment) -> None:
    seed(open_deployment, 2)
    result = open_deployment.cli("event", "C0", "paid", "--note", "bank transfer")
    assert result.returncode == 0, result.stderr
    assert "case C0: paid" in result.stdout
    states = {r.case_id: (r.state, r.last_reason) for r in _reminders(open_deployment)}
    assert states["C0"] == ("cancelled", "case_paid")
    assert states["C1"][0] == "pending"
    explained = open_deployment.cli("explain", "C0")
    assert "event paid" in explained.stdout and "case_paid" in explained.stdout


def test_event_plan_needs_until_and_pauses(open_deployment: Deployment) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli("event", "C0", "plan")
    assert result.returncode == 2 and "--until" in result.stderr
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    result = open_deployment.cli("event", "C0", "plan", "--until", until)
    assert result.returncode == 0, result.stderr
    assert "paused until" in result.stdout
    result = open_deployment.cli("event", "C0", "plan", "--until", "next week")
    assert result.returncode != 0 and "not a date" in result.stderr


def test_a_pause_without_a_real_end_is_refused_with_what_to_do(open_deployment: Deployment) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli("event", "C0", "plan", "--until", "9999-12-31")
    assert result.returncode == 2 and "more than 10 years ahead" in result.stderr
    assert "cease" in result.stderr and "Traceback" not in result.stderr
    result = open_deployment.cli("event", "C0", "hardship", "--until", "9999-12-31T23:59:59-14:00")
    assert result.returncode != 0 and "out of the range" in result.stderr
    assert "Traceback" not in result.stderr
    store = open_deployment.store()
    assert store.get_case("C0").paused_until is None  # type: ignore[union-attr]
    store.close()


def test_event_on_unknown_case_fails_clearly(open_deployment: Deployment) -> None:
    result = open_deployment.cli("event", "NOPE", "paid")
    assert result.returncode == 2 and "no case 'NOPE'" in result.stderr


def test_opt_out_then_opt_in(open_deployment: Deployment) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli("event", "C0", "opt-out", "--channel", "sms")
    assert result.returncode == 0, result.stderr
    person = open_deployment.store().get_person("P0")
    assert person is not None and [o.channel for o in person.opt_outs] == ["sms"]
    open_deployment.cli("event", "C0", "opt-in", "--channel", "sms")
    person = open_deployment.store().get_person("P0")
    assert person is not None and person.opt_outs == ()


def test_enqueue_adds_an_adhoc_reminder(open_deployment: Deployment) -> None:
    seed(open_deployment, 1)
    result = open_deployment.cli(
        "enqueue",
        "--case",
        "C0",
        "--channel",
        "email",
        "--template",
        "overdue_email",
        "--at",
        "2030-01-02T09:00",
    )
    assert result.returncode == 0, result.stderr
    added = _reminders(open_deployment)[-1]
    assert (added.channel, added.template, added.schedule) == ("email", "overdue_email", "adhoc")
    # 09:00 in the person's zone (Asia/Shanghai, UTC+8).
    assert added.due_at.replace(tzinfo=UTC) == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)
    bad = open_deployment.cli("enqueue", "--case", "C0", "--channel", "fax", "--template", "x")
    assert bad.returncode == 2 and "unknown channel 'fax'" in bad.stderr


def test_status_on_an_empty_store_and_plugins(open_deployment: Deployment) -> None:
    status = open_deployment.cli("status")
    assert status.returncode == 0, status.stderr
    assert "next due: none" in status.stdout
    plugins = open_deployment.cli("plugins")
    assert plugins.returncode == 0
    assert "outbox" in plugins.stdout and "dispatcher_plugins.outbox" in plugins.stdout


def test_explain_unknown_target(open_deployment: Deployment) -> None:
    result = open_deployment.cli("explain", "999")
    assert result.returncode == 2 and "no case or reminder '999'" in result.stderr


def test_backup_while_the_daemon_writes(open_deployment: Deployment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from tests.conftest import stop, wait_for

    dep = open_deployment
    seed(dep, 2000)
    process = dep.start()
    try:
        wait_for(lambda: len(dep.outbox_lines()) >= 100, timeout=30)
        target = tmp_path / "backup.db"
        result = dep.cli("backup", str(target))
    finally:
        stop(process)
    assert result.returncode == 0, result.stderr
    assert "backed up" in result.stdout
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM reminders").fetchone()[0] == 2000
    sent = copy.execute("SELECT count(*) FROM reminders WHERE state = 'sent'").fetchone()[0]
    assert sent >= 100
    copy.close()
    assert not list(tmp_path.glob(".*partial")), "no partial file is left behind"


def test_store_commands_work_while_the_policy_is_mid_edit(open_deployment: Deployment) -> None:
    seed(open_deployment, 1)
    open_deployment.set("policy.toml", r'^jitter = ".*"$', 'jitter = "soon"')
    assert open_deployment.cli("check").returncode == 1
    assert open_deployment.cli("status").returncode == 0
    assert open_deployment.cli("explain", "C0").returncode == 0
    assert open_deployment.cli("event", "C0", "dispute").returncode == 0
    # A broken dispatcher.toml is another matter: exit 2 with the error.
    open_deployment.set("dispatcher.toml", r"^batch_size = \d+", 'batch_size = "many"')
    result = open_deployment.cli("status")
    assert result.returncode == 2 and "dispatcher.toml:" in result.stderr
