"""Through the CLI and the real daemon: a case under a Breathing Space moratorium (by its event,
or given by an import) sends nothing while its neighbour sends; a deceased or bankrupt case
sends only the template whose ``allowed_states`` names its state, every other reminder
suppressed with the state's code."""

from __future__ import annotations

import json
from datetime import date, timedelta

from dispatcher.model import ReminderState
from tests.conftest import Deployment, seed, stop, wait_for

ESTATE = """{{# meta
allowed_states = ["deceased"]
#}}
To the estate of the late account holder of {{{{ case.id }}}}.
"""


def _reminders(dep: Deployment, case_id: str) -> dict[str, tuple[ReminderState, str | None]]:
    store = dep.store()
    try:
        history = store.case_history(case_id)
    finally:
        store.close()
    return {r.template: (r.state, history.reminder_reasons.get(r.id)) for r in history.reminders}


def _held(dep: Deployment, case_id: str) -> list[tuple[ReminderState, str | None]]:
    """Each reminder of the case: its state and the reason of its last decision."""
    store = dep.store()
    try:
        history = store.case_history(case_id)
    finally:
        store.close()
    return [(r.state, history.reminder_reasons.get(r.id)) for r in history.reminders]


def test_a_held_case_sends_nothing_while_its_neighbour_sends(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 2)
    held = dep.cli("event", "C0", "breathing-space", "--note", "debt adviser ref 1")
    assert held.returncode == 0, held.stderr
    assert "breathing space" in held.stdout

    process = dep.start()
    try:
        wait_for(lambda: _reminders(dep, "C1")["first_notice"][0] is ReminderState.SENT, 30)
        wait_for(lambda: _reminders(dep, "C0")["first_notice"][1] == "breathing_space", 30)
    finally:
        stop(process)
    assert _reminders(dep, "C0")["first_notice"][0] is ReminderState.PENDING
    lines = dep.outbox_lines()
    assert len(lines) == 1 and "C0" not in str(lines[0])
    explained = dep.cli("explain", "C0")
    assert "breathing space since" in explained.stdout
    assert "breathing_space" in explained.stdout


def test_a_moratorium_given_by_an_import_holds_the_case(open_deployment: Deployment) -> None:
    dep = open_deployment
    seed(dep, 2)
    due = date.today() - timedelta(days=30)
    # Case C0 of seed's person P0 again, now with a moratorium on it (and a schedule the
    # import knows, whose steps the moratorium holds too).
    rows = dep.root / "spaces.csv"
    rows.write_text(
        "person_id,name,timezone,phone,case_id,amount,currency,due_date,schedule,"
        "breathing_space,breathing_space_start\n"
        f"P0,Person 0,Asia/Shanghai,+8613800000000,C0,100.00,CNY,{due},standard,"
        f"standard,{date.today() - timedelta(days=2)}\n"
    )
    for _ in range(2):  # imported again: still one moratorium
        imported = dep.cli("import", str(rows))
        assert imported.returncode == 0, imported.stderr
    process = dep.start()
    try:
        wait_for(lambda: _reminders(dep, "C1")["first_notice"][0] is ReminderState.SENT, 30)
        held = {(ReminderState.PENDING, "breathing_space")}
        wait_for(lambda: set(_held(dep, "C0")) == held, 30)
    finally:
        stop(process)
    assert not [line for line in dep.outbox_lines() if "C0" in str(line)]
    explained = dep.cli("explain", "C0")
    assert "breathing space since" in explained.stdout
    assert "breathing_space" in explained.stdout
    history = json.loads(dep.cli("explain", "C0", "--json").stdout)["history"]
    assert [h["what"] for h in history].count("event breathing-space") == 1


def test_a_deceased_case_sends_only_the_letter_to_the_estate(open_deployment: Deployment) -> None:
    dep = open_deployment
    sms = dep.config / "templates" / "sms"
    for locale in ("en", "zh-CN"):
        (sms / f"estate_notice.{locale}.j2").write_text(ESTATE.format(), encoding="utf-8")
    # Named for the state in one locale only: not allowed (check refuses it in a schedule).
    (sms / "half_named.en.j2").write_text(ESTATE.format(), encoding="utf-8")
    (sms / "half_named.zh-CN.j2").write_text("致 {{ case.id }} 的遗产管理人。\n", encoding="utf-8")
    seed(dep, 2)
    assert dep.cli("event", "C0", "deceased").returncode == 0
    assert dep.cli("event", "C1", "bankrupt").returncode == 0
    for case_id, template in (
        ("C0", "estate_notice"),
        ("C0", "half_named"),
        ("C1", "estate_notice"),
    ):
        enqueued = dep.cli("enqueue", "--case", case_id, "--channel", "sms", "--template", template)
        assert enqueued.returncode == 0, enqueued.stderr

    process = dep.start()
    try:
        wait_for(
            lambda: all(
                s is not ReminderState.PENDING
                for case_id in ("C0", "C1")
                for s, _ in _reminders(dep, case_id).values()
            ),
            timeout=30,
        )
    finally:
        stop(process)
    assert _reminders(dep, "C0") == {
        "estate_notice": (ReminderState.SENT, None),
        "half_named": (ReminderState.SUPPRESSED, "case_deceased"),
        "first_notice": (ReminderState.SUPPRESSED, "case_deceased"),
    }
    assert _reminders(dep, "C1") == {
        "estate_notice": (ReminderState.SUPPRESSED, "case_bankrupt"),
        "first_notice": (ReminderState.SUPPRESSED, "case_bankrupt"),
    }
    [line] = dep.outbox_lines()
    assert "To the estate of the late account holder of C0" in str(line)
    explained = dep.cli("explain", "C0")
    assert "case C0: deceased" in explained.stdout
