"""After a cease request (Reg F §1006.6(c)) only a template flagged ``allowed_after_cease``
in every locale may go, whether a schedule names it or it was enqueued ad hoc; every other
reminder of the case is suppressed ``case_ceased``. Through the CLI and the real daemon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatcher.model import ReminderState
from tests.conftest import Deployment, seed, stop, wait_for

FINAL = """{{# meta
allowed_after_cease = {flag}
#}}
Final notice for {{{{ case.id }}}}: we will not contact you again about it.
"""


def _write_final_notice(dep: Deployment, name: str, flags: dict[str, str]) -> None:
    for locale, flag in flags.items():
        path = dep.config / "templates" / "sms" / f"{name}.{locale}.j2"
        path.write_text(FINAL.format(flag=flag), encoding="utf-8")


def _states(dep: Deployment) -> dict[str, tuple[ReminderState, str | None]]:
    store = dep.store()
    try:
        history = store.case_history("C0")
    finally:
        store.close()
    return {
        r.template: (r.state, history.reminder_reasons.get(r.id))
        for r in history.reminders
        if r.schedule == "adhoc"
    }


def test_an_adhoc_final_notice_goes_after_cease_and_nothing_else(
    open_deployment: Deployment,
) -> None:
    dep = open_deployment
    _write_final_notice(dep, "final_notice", {"en": "true", "zh-CN": "true"})
    # Flagged in one locale only: not allowed (check refuses it for a schedule step too).
    _write_final_notice(dep, "half_flagged", {"en": "true", "zh-CN": "false"})
    seed(dep, 1, due=datetime.now(UTC) + timedelta(days=3000))
    assert dep.cli("event", "C0", "cease").returncode == 0
    for template in ("final_notice", "half_flagged", "first_notice"):
        enqueued = dep.cli("enqueue", "--case", "C0", "--channel", "sms", "--template", template)
        assert enqueued.returncode == 0, enqueued.stderr

    process = dep.start()
    try:
        wait_for(
            lambda: all(s is not ReminderState.PENDING for s, _ in _states(dep).values()),
            timeout=30,
        )
    finally:
        stop(process)
    states = _states(dep)
    assert states["final_notice"][0] is ReminderState.SENT
    assert states["half_flagged"] == (ReminderState.SUPPRESSED, "case_ceased")
    assert states["first_notice"] == (ReminderState.SUPPRESSED, "case_ceased")
    [line] = dep.outbox_lines()
    assert "Final notice for C0" in str(line)
