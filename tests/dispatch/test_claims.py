"""The claim stage over a real SQLite file: a batch decided and claimed in one go, its
decisions counted, measured and shown to ``on_decision`` observers; and what a template of a
claim sees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pydantic
import pytest

from dispatcher.config.dispatcher_file import DispatchSettings
from dispatcher.dispatch.claims import observe_decisions
from dispatcher.dispatch.counters import Counters
from dispatcher.dispatch.render import render_context
from dispatcher.hookspecs import hookimpl
from dispatcher.links import LinkSigner, LinkState
from dispatcher.metrics import Metrics
from dispatcher.model import Attempt, Case, Decision, Person, Reason, Reminder, Verdict
from dispatcher.runtime.plugins import load_plugins
from dispatcher.store.api import Store
from tests.dispatch.conftest import NOW, claimed, send_now
from tests.store.test_store import _people


class Observer:
    def __init__(self) -> None:
        self.decisions: list[tuple[str, str]] = []

    @hookimpl
    def on_decision(self, reminder: Reminder, decision: Decision) -> None:
        self.decisions.append((reminder.case_id, decision.verdict.value))


def test_each_decision_of_a_batch_is_counted_measured_and_observed(store: Store) -> None:
    _people(store, 3)

    def by_case(
        reminder: Reminder, person: Person, case: Case, history: Sequence[Attempt]
    ) -> Decision:
        if case.id == "C1":
            return Decision(Verdict.DEFER, NOW, until=NOW, reasons=(Reason("quiet_hours", "x"),))
        if case.id == "C2":
            return Decision(Verdict.SUPPRESS, NOW, reasons=(Reason("opt_out", "x"),))
        return send_now(reminder, person, case, history)

    batch = store.claim_due(NOW, 3, by_case, timedelta(0), node="a")
    observer = Observer()
    plugins = load_plugins([observer])
    counters = Counters()
    metrics = Metrics()
    observe_decisions(batch, counters, metrics, plugins.manager.hook.on_decision)
    assert (counters.claimed, counters.deferred, counters.suppressed) == (1, 1, 1)
    assert sorted(observer.decisions) == [("C0", "send"), ("C1", "defer"), ("C2", "suppress")]
    sample = metrics.registry.get_sample_value
    assert sample("dispatcher_decisions_total", {"verdict": "defer", "reason": "quiet_hours"}) == 1
    assert sample("dispatcher_decisions_total", {"verdict": "send", "reason": ""}) == 1


def test_a_template_sees_the_first_name_and_the_days_overdue(store: Store) -> None:
    [claim] = claimed(store, 1)
    context = render_context(claim)
    assert context["person"]["first_name"] == "Name"
    assert context["case"]["days_overdue"] == 28  # due 1 Nov, reminded 29 Nov
    assert (context["reminder"]["channel"], context["reminder"]["step"]) == ("sms", "0")
    assert "self_service_url" not in context  # no [self_service]: a template naming it fails


def test_a_template_sees_the_cases_own_signed_link(store: Store) -> None:
    [claim] = claimed(store, 1)
    signer = LinkSigner(b"k" * 32, "https://pay.example.com", 30)
    url = render_context(claim, signer, NOW)["self_service_url"]
    check = signer.check(url.removeprefix("https://pay.example.com/s/"), NOW)
    assert (check.state, check.case_id) == (LinkState.VALID, claim.case.id)


def test_a_claim_coalesce_longer_than_a_second_is_refused_and_zero_turns_it_off() -> None:
    with pytest.raises(pydantic.ValidationError, match="longer than 1s"):
        DispatchSettings.model_validate({"claim_coalesce": "2s"})
    assert DispatchSettings.model_validate({"claim_coalesce": "0s"}).claim_coalesce == timedelta(0)
    assert DispatchSettings().claim_coalesce == timedelta(milliseconds=50)
