"""A stand-in for the CRM's webhook, for tests: a real HTTP server on the loopback interface
that checks every request as the CRM must (signature, timestamp, idempotency key) and books one
visit task per idempotency key. Needs the test extra (it runs on dispatcher.testing.HttpPeer).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dispatcher.testing import HttpPeer, Reply, Request
from dispatcher_fieldvisit.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)


class FakeCrm:
    """``tasks`` maps each idempotency key to the task booked for it; ``refusals`` says why
    requests were refused. ``peer`` is the HTTP server (its ``replying`` and ``down`` provoke
    failures)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode("utf-8")
        self.tasks: dict[str, dict[str, Any]] = {}
        self.refusals: list[str] = []
        self._lock = threading.Lock()
        self.peer = HttpPeer(self._respond)

    @property
    def url(self) -> str:
        return self.peer.url + "/visits"

    @property
    def requests(self) -> int:
        return self.peer.requests

    def close(self) -> None:
        self.peer.close()

    def __enter__(self) -> FakeCrm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _respond(self, request: Request) -> Reply:
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signed = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(self.secret, timestamp, request.body, signed, now=time.time()):
            return self._refuse("bad_signature", 401)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if not key:
            return self._refuse("idempotency_key_missing", 400)
        with self._lock:
            task = self.tasks.setdefault(
                key, {**request.json(), "task_id": f"VT-{len(self.tasks) + 1}"}
            )
        return Reply(201, json={"task_id": task["task_id"]})

    def _refuse(self, code: str, status: int) -> Reply:
        self.refusals.append(code)
        return Reply(status, json={"error": code})
