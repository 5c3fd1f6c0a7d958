"""systemd's STATUS line: the queue, the last send, and a rejected reload until one is
accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatcher.daemon.status import Status

SENT = datetime(2026, 11, 2, 8, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "last_send", "line"),
    [
        (Status(), None, "0 due, 0 pending; no send yet"),
        (Status(3, 12), SENT, "3 due, 12 pending; last send 2026-11-02 08:30:05 UTC"),
        (
            Status(0, 4, reload_problem="2 problem(s)"),
            None,
            "0 due, 4 pending; no send yet; last reload rejected (2 problem(s))",
        ),
    ],
)
def test_the_status_line(status: Status, last_send: datetime | None, line: str) -> None:
    assert status.line(last_send) == line
