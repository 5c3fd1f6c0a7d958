"""The loopback Twilio's optional answer delay (the benchmarks' provider latency)."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request

import pytest

from dispatcher.testing.twilio_peer import ACCOUNT_SID, AUTH_TOKEN, TwilioPeer, main

DELAY = 0.2


def _post(peer: TwilioPeer, resource: str, form: dict[str, str]) -> tuple[float, dict[str, str]]:
    """Seconds until the answer, and its body."""
    token = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    request = urllib.request.Request(
        f"{peer.url}/2010-04-01/Accounts/{ACCOUNT_SID}/{resource}",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Basic {token}"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=5) as response:
        body: dict[str, str] = json.load(response)
    return time.perf_counter() - started, body


def test_creation_answers_wait_for_the_delay() -> None:
    with TwilioPeer(delay=DELAY) as peer:
        took, body = _post(peer, "Messages.json", {"To": "+12125550100", "From": "+1", "Body": "x"})
        assert took >= DELAY and body["sid"].startswith("SM")
        took, body = _post(
            peer, "Calls.json", {"To": "+12125550100", "From": "+1", "Twiml": "<Response/>"}
        )
        assert took >= DELAY and body["sid"].startswith("CA")
        assert len(peer.messages) == 1 and len(peer.calls) == 1
        took, _ = _post(peer, f"Calls/{body['sid']}.json", {"Status": "completed"})
        assert took < DELAY  # only creation answers are held


def test_no_delay_by_default() -> None:
    with TwilioPeer() as peer:
        assert peer.delay == 0
        took, _ = _post(peer, "Messages.json", {"To": "+12125550100", "From": "+1", "Body": "x"})
        assert took < DELAY


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError):
        TwilioPeer(delay=-1)
    with pytest.raises(SystemExit):
        main(["0", "--delay", "-0.5"])
