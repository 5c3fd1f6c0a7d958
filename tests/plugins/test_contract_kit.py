"""The contract suite itself (``dispatcher.testing``), run the way a plugin author runs it:
a channel that keeps the contract passes every check, a broken one fails every check with a
message that says what to fix."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONTRACT_MODULE = """
import itertools

import pytest

from dispatcher.testing import ChannelContract, Failure
from tests.plugins.toy_channels import SLOTS, BrokenToyChannel, ToyChannel, ToyProvider

names = itertools.count()


class ToyFixtures:
    @pytest.fixture
    def peer(self):
        return ToyProvider(f"provider-{next(names)}")

    @pytest.fixture
    def valid_settings(self, peer):
        return {"provider": peer.name}

    @pytest.fixture
    def bad_settings(self, peer):
        return [({"provider": peer.name, "sender": "not a sender id"}, "sender")]

    @pytest.fixture
    def transient_failures(self, peer):
        return [Failure("busy", lambda channel: peer.failing("busy"), retry_after=2)]

    @pytest.fixture
    def permanent_failures(self, peer):
        return [
            Failure(
                "unknown number",
                lambda channel: peer.failing("unknown_number"),
                mark_contact="invalid",
            )
        ]


class TestToy(ToyFixtures, ChannelContract):
    channel_class = ToyChannel
    entry_point = "toy"
    capacity = SLOTS


class TestBrokenToy(ToyFixtures, ChannelContract):
    channel_class = BrokenToyChannel
    entry_point = "broken-toy"
    capacity = SLOTS
    send_timeout = 2.0  # it hangs for good: no need to wait long to see it


class TestToyWithoutFailures(ChannelContract):
    channel_class = ToyChannel
    entry_point = "toy"
    peer = ToyFixtures.peer
    valid_settings = ToyFixtures.valid_settings
"""

CHECKS = {
    "test_declares_type_name_contact_kind_and_settings": [
        "type_name is 'Broken Toy': set it to what admins write",
        "subclass dispatcher.channel.ChannelSettings",
        "contact_kind is 'phone': use dispatcher.model.ContactKind",
    ],
    "test_is_found_through_its_entry_point": [
        "no entry point 'broken-toy' in group 'dispatcher' is installed",
        "[project.entry-points.dispatcher]",
    ],
    "test_send_returns_a_send_result": [
        "send returned {'id': 'toy-1'}: return dispatcher.channel.SendResult(",
    ],
    "test_transient_failures_raise_transient_error": [
        "busy: send raised RuntimeError('provider still busy'): catch this failure and raise "
        "dispatcher.channel.TransientError",
    ],
    "test_permanent_failures_raise_permanent_error": [
        "unknown number: send raised TransientError(",
        "raise dispatcher.channel.PermanentError",
    ],
    "test_never_sleeps_or_retries": [
        "busy: send slept 3 time(s), 3s in all: never wait in a channel",
        "busy: 3 requests reached the peer during one send: never retry in a channel",
    ],
    "test_rejects_bad_settings_with_clear_messages": [
        "an unknown key (`no_such_setting`) was accepted",
        "'sender': 'not a sender id'} was accepted: reject a bad `sender`",
    ],
    "test_settings_never_show_secrets": [
        "`api_token` looks like a secret but is <class 'str'>: declare it as pydantic.SecretStr",
    ],
    "test_ready_then_release_without_a_send_sends_nothing_and_gives_back": [
        "ready did not return within 2s with capacity free: release must give back what ready took",
    ],
    "test_send_never_waits_for_capacity": [
        "with all 2 taken, a send after ready did not return within 2s (it waits inside send)",
    ],
    "test_open_and_close_are_idempotent": [
        "close before open raised AttributeError(",
        "it must be safe to repeat",
    ],
    "test_logs_and_errors_carry_no_personal_data": [
        "a working peer: a record of logger 'toy' at INFO contains '+12025550187': log "
        "dispatcher.privacy.mask(kind, value)",
        "unknown number: the error or result detail contains '+12025550187'",
    ],
    "test_reconcile_never_calls_a_sent_message_unsent": [
        "the attempt the provider has was called not_sent: the core would send it again",
        "reconcile delivered 2 times: it must only look (or set reconcile_resends",
    ],
}


@pytest.fixture
def contract_run(pytester: pytest.Pytester) -> dict[str, dict[str, str]]:
    """Run the suite against both toys, the good one found through an installed entry point,
    and return {class: {check: failure text or "passed"}}."""
    dist = pytester.mkdir("toy_channels-0.1.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-channels\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dispatcher]\ntoy = tests.plugins.toy_channels\n")
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_toy_contract=CONTRACT_MODULE)
    recorder = pytester.inline_run()
    outcomes: dict[str, dict[str, str]] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        if report.when != "call" and report.passed:
            continue
        _, cls, check = report.nodeid.split("::")
        outcomes.setdefault(cls, {})[check] = (
            "passed" if report.passed else f"{report.when}: {report.longreprtext}"
        )
    return outcomes


def test_a_channel_that_keeps_the_contract_passes_every_check(
    contract_run: dict[str, dict[str, str]],
) -> None:
    assert contract_run["TestToy"] == dict.fromkeys(CHECKS, "passed")


def test_a_broken_channel_fails_every_check_saying_what_to_fix(
    contract_run: dict[str, dict[str, str]],
) -> None:
    broken = contract_run["TestBrokenToy"]
    assert set(broken) == set(CHECKS)
    for check, hints in CHECKS.items():
        for hint in hints:
            assert hint in broken[check], f"{check}: {hint!r} not in:\n{broken[check]}"
    # Each problem once, in the scenario that caused it.
    assert broken["test_logs_and_errors_carry_no_personal_data"].count("a working peer:") == 1


def test_a_missing_fixture_is_named_with_what_to_provide(
    contract_run: dict[str, dict[str, str]],
) -> None:
    partial = contract_run["TestToyWithoutFailures"]
    for check, fixture in [
        ("test_rejects_bad_settings_with_clear_messages", "bad_settings"),
        ("test_transient_failures_raise_transient_error", "transient_failures"),
        ("test_permanent_failures_raise_permanent_error", "permanent_failures"),
    ]:
        assert f"ChannelContract needs a `{fixture}` fixture in your test class" in partial[check]
    # Checks that need none of them still run.
    assert partial["test_send_returns_a_send_result"] == "passed"
