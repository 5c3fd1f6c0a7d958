"""The check that no log record, error or result detail carries the person's address, name or
message body."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from dispatcher.channel import Channel, Message, SendResult
from dispatcher.model import ContactKind
from dispatcher.testing.contract.base import ContractBase
from dispatcher.testing.contract.failure import Failure
from dispatcher.testing.contract.report import error_text, fail_check
from dispatcher.testing.samples import personal_data
from dispatcher.testing.watch import Peer

_PLAIN_RECORD_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class PrivacyChecks(ContractBase):
    """No personal data in a log record, an error or a result detail."""

    def test_logs_and_errors_carry_no_personal_data(
        self,
        make_channel: Callable[..., Channel],
        make_message: Callable[[ContactKind], Message],
        peer: Peer,
        transient_failures: list[Failure],
        permanent_failures: list[Failure],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        problems = []
        messages: list[Message] = []

        def remembered(kind: ContactKind) -> Message:
            messages.append(make_message(kind))
            return messages[-1]

        for name, sent in self._every_scenario(
            make_channel, remembered, peer, transient_failures + permanent_failures
        ):
            secrets = personal_data(messages[-1])
            for record in caplog.records:
                leaked = [s for s in secrets if s in _record_text(record)]
                if leaked:
                    problems.append(
                        f"{name}: a record of logger {record.name!r} at {record.levelname} "
                        f"contains {leaked[0]!r}: log dispatcher.privacy.mask(kind, value) "
                        "instead of the address, and never the name or the body"
                    )
            caplog.clear()
            said = [error_text(sent.error)] if sent.error else []
            if isinstance(sent.result, SendResult):
                said.append(sent.result.detail)
            for text in said:
                leaked = [s for s in secrets if s in text]
                if leaked:
                    problems.append(
                        f"{name}: the error or result detail contains {leaked[0]!r}: errors "
                        "are stored and logged, so keep addresses, names and bodies out of them"
                    )
        if problems:
            fail_check(problems, "personal data must never reach a log record or an error:")


def _record_text(record: logging.LogRecord) -> str:
    """Everything a log record carries that a formatter could print."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a record whose arguments do not fit its message
        parts = [str(record.msg), repr(record.args)]
    parts += [repr(v) for k, v in vars(record).items() if k not in _PLAIN_RECORD_KEYS]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)
