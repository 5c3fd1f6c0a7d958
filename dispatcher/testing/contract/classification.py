"""Checks that every failure is classified as the core's error type (``TransientError`` with
its ``retry_after``, ``PermanentError`` with its ``mark_contact``), and that no send sleeps or
retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dispatcher.channel import Channel, Message, PermanentError, TransientError
from dispatcher.model import ContactKind
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.failure import Failure
from dispatcher.testing.contract.report import error_text, fail_check, missing_fixture
from dispatcher.testing.watch import Peer, Watched


class ClassificationChecks(ContractBase):
    """Each failure raises the core's error type, carrying what it should; no send waits or
    tries twice."""

    def test_transient_failures_raise_transient_error(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
    ) -> None:
        def hint_problems(failure: Failure, error: Exception) -> list[str]:
            assert isinstance(error, TransientError)
            hint = error.retry_after
            if hint is not None and (not isinstance(hint, int | float) or hint < 0):
                return [
                    f"{failure.name}: retry_after is {hint!r}: give seconds as a number "
                    "(parse the provider's Retry-After), or None"
                ]
            if failure.retry_after is not None and hint != pytest.approx(failure.retry_after):
                return [
                    f"{failure.name}: retry_after is {hint!r}, expected {failure.retry_after!r}: "
                    "pass the provider's hint on so the core waits long enough"
                ]
            return []

        self._check_failures(
            make_channel,
            make_message,
            peer,
            transient_failures,
            fixture="transient_failures",
            error_type=TransientError,
            meaning="worth trying again: rate limit, provider 5xx, timeout, network",
            details=hint_problems,
        )

    def test_permanent_failures_raise_permanent_error(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        permanent_failures: list[Failure],
    ) -> None:
        def mark_problems(failure: Failure, error: Exception) -> list[str]:
            assert isinstance(error, PermanentError)
            if error.mark_contact not in (None, "invalid", "opted_out"):
                return [
                    f"{failure.name}: mark_contact is {error.mark_contact!r}: use None, "
                    '"invalid" or "opted_out"'
                ]
            if failure.mark_contact is not None and error.mark_contact != failure.mark_contact:
                return [
                    f"{failure.name}: mark_contact is {error.mark_contact!r}, expected "
                    f"{failure.mark_contact!r}"
                ]
            return []

        self._check_failures(
            make_channel,
            make_message,
            peer,
            permanent_failures,
            fixture="permanent_failures",
            error_type=PermanentError,
            meaning="it will never work for this message: bad address, refused request",
            details=mark_problems,
        )

    def _check_failures(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        failures: list[Failure],
        *,
        fixture: str,
        error_type: type[Exception],
        meaning: str,
        details: Callable[[Failure, Exception], list[str]],
    ) -> None:
        """Provoke each failure; it must raise ``error_type``, with the details it should
        carry."""
        if not failures:
            missing_fixture(fixture, "it is empty; give at least one way to provoke one")
        problems: list[str] = []
        for failure in failures:
            sent = self._run(make_channel, make_message, peer, failure)
            error = sent.error
            if sent.hung or not isinstance(error, error_type):
                problems.append(self._misclassified(sent, failure, error_type.__name__, meaning))
                continue
            problems.extend(details(failure, error))
        if problems:
            kind = fixture.split("_")[0]
            fail_check(
                problems,
                f"{kind} failures must raise dispatcher.channel.{error_type.__name__}:",
            )

    def test_never_sleeps_or_retries(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
        permanent_failures: list[Failure],
    ) -> None:
        problems = []
        for name, sent in self._every_scenario(
            make_channel, make_message, peer, transient_failures + permanent_failures
        ):
            if sent.slept:
                total = sum(sent.slept)
                problems.append(
                    f"{name}: send slept {len(sent.slept)} time(s), {total:g}s in all: never "
                    "wait in a channel; raise TransientError(retry_after=…) and the core "
                    "decides when to try again, after checking the policy"
                )
            if sent.reached > 1:
                problems.append(
                    f"{name}: {sent.reached} requests reached the peer during one send: never "
                    "retry in a channel (nor let the HTTP client retry); raise TransientError "
                    "and the core retries"
                )
        if problems:
            fail_check(problems, "a channel sends once per call and never waits:")

    def _misclassified(self, sent: Watched, failure: Failure, expected: str, when: str) -> str:
        if sent.hung:
            got = f"did not return within {self.send_timeout:g}s (give network calls a timeout)"
        elif sent.error is None:
            got = f"returned {sent.result!r} although the peer failed"
        else:
            got = f"raised {error_text(sent.error)}"
        return (
            f"{failure.name}: send {got}: catch this failure and raise "
            f"dispatcher.channel.{expected} ({when})"
        )
