"""An unsubscribe link is accepted only as it was sent: a token whose last base64url
character was changed (base64 leaves spare bits there, which a lenient decoder ignores)
gets 403 and changes nothing, through the daemon's HTTP server."""

from __future__ import annotations

import string

from dispatcher.runtime import load_runtime
from tests.conftest import Deployment
from tests.daemon.test_email import (  # noqa: F401  (fixtures)
    ADDRESS,
    dispatch_until,
    emailing,
    http_client,
    opted_out,
    smtp,
    unsubscribe_path,
)
from tests.plugins.smtp_peer import SmtpPeer

ALPHABET = string.ascii_letters + string.digits + "-_"


def _same_bytes_variants(part: str) -> list[str]:
    """``part`` with its last character swapped for each other one that decodes to the same
    bytes under a decoder ignoring the spare bits."""
    import base64

    def decoded(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    return [
        part[:-1] + c for c in ALPHABET if c != part[-1] and decoded(part[:-1] + c) == decoded(part)
    ]


async def test_a_token_with_its_last_character_changed_is_refused(
    emailing: Deployment,  # noqa: F811
    smtp: SmtpPeer,  # noqa: F811
) -> None:
    runtime = load_runtime(emailing.config)
    await runtime.channels["email"].open()
    await dispatch_until(runtime, emailing, lambda: smtp.requests == 1)
    await runtime.channels["email"].close()
    path = unsubscribe_path(smtp.received[0])
    prefix, token = path.rsplit("/", 1)
    head, _, signature = token.rpartition(".")
    altered = [f"{head}.{variant}" for variant in _same_bytes_variants(signature)]
    assert altered, "a 16-byte signature is 22 characters: 4 spare bits"
    async with http_client(emailing) as client:
        for variant in altered:
            response = await client.post(
                f"{prefix}/{variant}", data={"List-Unsubscribe": "One-Click"}
            )
            assert response.status == 403, variant
            assert (await client.get(f"{prefix}/{variant}")).status == 403
        assert opted_out(emailing) == []
        done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status == 200
    assert opted_out(emailing) == [("*", ADDRESS)]
