"""The letter channel's ``reconcile`` through Lob: an unknown letter is posted again under its
attempt id, which Lob dedupes, so it is ``sent`` whether Lob had it or not, and never printed
twice; a refusal is ``not_sent``, no clear answer ``unknown``, a refused key raises; a letter
older than Lob keeps keys, or one the core gave no message for, is not posted at all. Against
a loopback Lob that dedupes as Lob does. (The resend is the channel's own send, whose request
test_letter_lob checks against Lob's published spec.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dispatcher_plugins.letter import LetterChannel
from dispatcher_plugins.letter.lob import LobSetupError

from dispatcher.channel import Message, Reconciled, UnknownAttempt
from dispatcher.model import ContactKind
from dispatcher.testing import HttpPeer, Reply
from dispatcher.testing.samples import sample_message
from tests.plugins.test_letter_lob import US_ADDRESS, lob_settings


class DedupingLob:
    """Lob's idempotency: the first request with a key makes a letter, later ones answer with
    the same letter."""

    def __init__(self) -> None:
        self.letters: dict[str, str] = {}

    def __call__(self, request: Any) -> Reply:
        key = request.headers["Idempotency-Key"]
        letter = self.letters.setdefault(key, f"ltr_{len(self.letters) + 1}")
        return Reply(200, json={"id": letter})


def letter() -> Message:
    return sample_message(ContactKind.POSTAL, body="Pat Example\n\nDear Pat", contact=US_ADDRESS)


def unknown(message: Message | None, at: datetime, aid: str | None = None) -> UnknownAttempt:
    return UnknownAttempt(
        attempt_id=aid or (message.attempt_id if message else "no-message"),
        reminder_id=1,
        channel="letter",
        contact=US_ADDRESS,
        at=at,
        message=message,
    )


async def reconciled(base_url: str, attempts: list[UnknownAttempt]) -> dict[str, Reconciled]:
    channel = LetterChannel("letter", lob_settings(base_url))
    await channel.open()
    try:
        return dict(await channel.reconcile(attempts))
    finally:
        await channel.close()


async def test_a_resend_under_the_same_key_never_prints_twice(http_peer: HttpPeer) -> None:
    lob = DedupingLob()
    http_peer.respond = lob
    had, lost = letter(), letter()
    lob.letters[had.attempt_id] = "ltr_before_the_crash"
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    answers = await reconciled(http_peer.url, [unknown(had, hour_ago), unknown(lost, hour_ago)])
    assert answers == {had.attempt_id: Reconciled.SENT, lost.attempt_id: Reconciled.SENT}
    assert sorted(lob.letters) == sorted([had.attempt_id, lost.attempt_id]), "one letter each"
    keys = [r.headers["Idempotency-Key"] for r in http_peer.received]
    assert keys == [had.attempt_id, lost.attempt_id]


async def test_what_is_not_posted_again(http_peer: HttpPeer) -> None:
    http_peer.respond = DedupingLob()
    old = letter()
    answers = await reconciled(
        http_peer.url,
        [
            unknown(old, datetime.now(UTC) - timedelta(days=2)),  # Lob forgot the key
            unknown(None, datetime.now(UTC), aid="moved-on"),  # the core sent no message
        ],
    )
    assert answers == {old.attempt_id: Reconciled.UNKNOWN, "moved-on": Reconciled.UNKNOWN}
    assert http_peer.requests == 0


@pytest.mark.parametrize(
    ("status", "expected"), [(422, Reconciled.NOT_SENT), (503, Reconciled.UNKNOWN)]
)
async def test_lobs_answer_decides(http_peer: HttpPeer, status: int, expected: Reconciled) -> None:
    http_peer.respond = lambda request: Reply(status, json={"error": {"message": "no"}})
    message = letter()
    answers = await reconciled(http_peer.url, [unknown(message, datetime.now(UTC))])
    assert answers == {message.attempt_id: expected}


async def test_a_refused_key_fails_the_page(http_peer: HttpPeer) -> None:
    http_peer.respond = lambda request: Reply(401, json={})
    with pytest.raises(LobSetupError):
        await reconciled(http_peer.url, [unknown(letter(), datetime.now(UTC))])
