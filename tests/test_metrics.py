"""The metrics' exposition, parsed as Prometheus parses it: build info, no _created series,
every labelled series there from the start at 0, the process collectors, the channels' up
gauge; the label lists kept in step with the code that counts; and a real daemon's /metrics
through ``promtool check metrics`` when promtool is installed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dispatcher.metrics import DECISION_REASONS, SEND_OUTCOMES, STORE_CALLS, Metrics
from dispatcher.model import ReminderState
from dispatcher.runtime.versions import PROGRAM_VERSION, config_version
from dispatcher.store.schema import SCHEMA_VERSION
from tests.conftest import (
    OPEN_ALL_DAY,
    REPO,
    Deployment,
    http_get,
    make_deployment,
    seed,
    stop,
    wait_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) → value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def test_every_known_series_is_there_at_zero_before_anything_happens() -> None:
    metrics = Metrics()
    metrics.know_channels(["sms", "email"])
    found = samples(metrics.exposition().decode())

    for verdict, reasons in DECISION_REASONS.items():
        for reason in reasons:
            assert value(found, "dispatcher_decisions_total", verdict=verdict, reason=reason) == 0
    for channel in ("sms", "email"):
        for outcome in SEND_OUTCOMES:
            assert (
                value(found, "dispatcher_attempts_total", channel=channel, outcome=outcome.value)
                == 0
            )
        assert value(found, "dispatcher_send_seconds_count", channel=channel) == 0
        assert value(found, "dispatcher_due_to_send_lag_seconds_count", channel=channel) == 0
        assert value(found, "dispatcher_unknown_attempts", channel=channel) == 0
    for call in STORE_CALLS:
        assert value(found, "dispatcher_store_errors_total", call=call) == 0
    for result in ("success", "failure"):
        assert value(found, "dispatcher_reloads_total", result=result) == 0
    for state in ReminderState:
        assert value(found, "dispatcher_reminders", state=state.value) == 0


def test_no_created_series_and_the_process_collectors_are_on_the_daemons_registry() -> None:
    found = samples(Metrics().exposition().decode())
    names = {name for name, _ in found}
    assert not [name for name in names if name.endswith("_created")]
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
    assert "python_info" in names
    # Two registries in one process (two daemons in a test) each have their own collectors.
    assert "process_cpu_seconds_total" in Metrics().exposition().decode()


def test_build_info_and_the_last_good_load() -> None:
    metrics = Metrics()
    metrics.set_build_info("1.2.3", 9)
    metrics.config_loaded("abc123", 1_700_000_000.0)
    found = samples(metrics.exposition().decode())
    assert value(found, "dispatcher_build_info", version="1.2.3", schema="9") == 1
    assert value(found, "dispatcher_config_info", version="abc123") == 1
    assert value(found, "dispatcher_config_last_reload_success") == 1
    assert value(found, "dispatcher_config_last_reload_success_timestamp_seconds") == 1.7e9


def test_channel_up_follows_the_channels_of_the_config_in_force() -> None:
    metrics = Metrics()
    metrics.know_channels(["sms", "email"])
    metrics.set_channel_up("sms", True)
    metrics.set_channel_up("email", False)
    found = samples(metrics.exposition().decode())
    assert value(found, "dispatcher_channel_up", channel="sms") == 1
    assert value(found, "dispatcher_channel_up", channel="email") == 0
    metrics.know_channels(["sms"])  # email left the config
    found = samples(metrics.exposition().decode())
    assert value(found, "dispatcher_channel_up", channel="email") is None
    assert value(found, "dispatcher_channel_up", channel="sms") == 1
    assert value(found, "dispatcher_attempts_total", channel="email", outcome="placed") == 0


def _codes(pattern: str, *paths: str) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for file in sorted((REPO / path).rglob("*.py")):
            found |= set(re.findall(pattern, file.read_text(encoding="utf-8")))
    return found


def test_every_reason_code_the_policy_gives_is_known_up_front() -> None:
    given = _codes(r'Reason\(\s*"(\w+)"', "dispatcher/policy", "dispatcher/dispatch")
    # case_state.py writes case_{state.value} for the two pauses and the two final states.
    given |= {"case_plan", "case_hardship", "case_bankrupt", "case_deceased"}
    known = {reason for reasons in DECISION_REASONS.values() for reason in reasons}
    assert given <= known, sorted(given - known)
    assert known - {""} <= given, sorted(known - given - {""})


def test_every_store_call_site_is_known_up_front() -> None:
    sites = _codes(
        r'(?:guarded|health\.call|\.failed|\.succeeded|store_errors\.labels)\(\s*"(\w+)"',
        "dispatcher",
    )
    assert sites == set(STORE_CALLS)


@pytest.fixture(scope="module")
def sent_two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Deployment, str]:
    """A real daemon after it sent two reminders, and its /metrics then."""
    dep = make_deployment(tmp_path_factory.mktemp("metrics"))
    dep.write("policy.toml", OPEN_ALL_DAY)
    port = dep.listen_on_free_port()
    seed(dep, 2)
    process = dep.start()
    try:
        wait_for(lambda: len(dep.outbox_lines()) == 2, timeout=60)
        wait_for(lambda: 'outcome="placed"} 2.0' in http_get(port, "/metrics")[1], timeout=30)
        text = http_get(port, "/metrics")[1]
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    return dep, text


def test_a_daemons_metrics_parse_and_say_what_runs(sent_two: tuple[Deployment, str]) -> None:
    dep, scraped = sent_two
    found = samples(scraped)
    build = value(
        found, "dispatcher_build_info", version=PROGRAM_VERSION, schema=str(SCHEMA_VERSION)
    )
    assert build == 1
    assert value(found, "dispatcher_config_info", version=config_version(dep.config))
    assert value(found, "dispatcher_config_last_reload_success_timestamp_seconds")
    for channel in ("sms", "voice", "email", "letter"):
        assert value(found, "dispatcher_channel_up", channel=channel) == 1, channel
    assert value(found, "dispatcher_attempts_total", channel="sms", outcome="placed") == 2
    assert value(found, "dispatcher_attempts_total", channel="email", outcome="placed") == 0
    assert value(found, "dispatcher_reloads_total", result="failure") == 0
    assert value(found, "process_open_fds")
    assert not [name for name, _ in found if name.endswith("_created")]


def test_a_daemons_metrics_pass_promtool(sent_two: tuple[Deployment, str]) -> None:
    _, scraped = sent_two
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=scraped, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
