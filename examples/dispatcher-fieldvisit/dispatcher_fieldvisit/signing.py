"""The signature on every visit task: HMAC-SHA256 over ``<timestamp>.<body>`` with the secret
shared with the CRM, sent as ``X-Dispatcher-Signature: sha256=<hex>``.

The timestamp is signed too so a captured request cannot be replayed later; the receiver
rejects timestamps outside a few minutes (``verify``'s ``tolerance``).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Dispatcher-Signature"
TIMESTAMP_HEADER = "X-Dispatcher-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """The receiver's check: the signature matches and the timestamp (Unix seconds) is within
    ``tolerance`` seconds of ``now``."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
