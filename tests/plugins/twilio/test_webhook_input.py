"""Twilio's webhooks given what Twilio never sends, through the daemon's HTTP server: bodies
that are not URL-encoded UTF-8 forms get a 4xx before anything reads them (never a 500), the
routes answer 404 when no Twilio channel is configured, and a STOP reply is taken from an
account whose first channel asks for no callbacks (any channel of the account may have signed
it)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dispatcher.daemon import Daemon
from dispatcher.daemon.web import build_app
from dispatcher.testing.twilio_peer import ACCOUNT_SID, AUTH_TOKEN, TwilioPeer, sign
from tests.conftest import Deployment, seed
from tests.plugins.twilio import test_webhooks
from tests.plugins.twilio.conftest import PUBLIC
from tests.plugins.twilio.test_webhooks import NUMBER, Deployed

deployed = test_webhooks.deployed  # the fixtures of the signed-callback tests
on_twilio = test_webhooks.on_twilio

SIGNED_FORM = {"AccountSid": ACCOUNT_SID, "From": NUMBER, "Body": "STOP"}


@pytest.mark.parametrize("path", ["/twilio/inbound?channel=sms", "/twilio/status?channel=sms"])
@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-www-form-urlencoded", b"Body=\xff\xfeSTOP&From=%2B1", 400),
        ("application/x-www-form-urlencoded", b"Body=%FF%FE&From=x", 400),
        ("application/x-www-form-urlencoded", b"&&==&", 400),
        ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-da", 415),
        ("multipart/form-data", b"\xff\x00--", 415),
        ("text/plain; charset=utf-8", b"Body=STOP", 415),
    ],
)
async def test_a_body_that_is_not_a_utf8_form_is_refused_with_a_4xx(
    deployed: Deployed, path: str, content_type: str, body: bytes, status: int
) -> None:
    seed(deployed.dep, 1)
    response = await deployed.client.post(
        path, data=body, headers={"Content-Type": content_type, "X-Twilio-Signature": "x"}
    )
    assert response.status == status, await response.text()
    assert not (await deployed.store("get_person", "P0")).opt_outs


async def test_the_routes_answer_404_without_a_twilio_channel(open_deployment: Deployment) -> None:
    daemon = Daemon(open_deployment.config)  # the example: every channel on the outbox
    app = build_app(daemon.metrics, daemon.ready, daemon.core_access())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        for path in ("/twilio/inbound", "/twilio/status"):
            signature = sign(AUTH_TOKEN, PUBLIC + path, SIGNED_FORM)
            response = await client.post(
                path, data=SIGNED_FORM, headers={"X-Twilio-Signature": signature}
            )
            assert response.status == 404, path
            broken = await client.post(
                path, data=b"\xff", headers={"Content-Type": "multipart/form-data; boundary=x"}
            )
            assert broken.status == 404, path
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store.close()


@pytest.fixture
def sms_without_callbacks(on_twilio: Deployment) -> Deployment:
    """The sms channel (the account's first) asks for no callbacks; voice, of the same
    account, has the public base its webhooks are signed with."""
    path = on_twilio.config / "dispatcher.toml"
    text = path.read_text()
    head, sms, rest = text.partition("[channels.sms]\n")
    block, bracket, tail = rest.partition("\n[")
    block = "\n".join(x for x in block.splitlines() if not x.startswith("status_callback_base"))
    path.write_text(head + sms + block + bracket + tail)
    assert on_twilio.cli("check").returncode == 0
    return on_twilio


async def test_a_stop_reply_is_taken_when_the_first_channel_has_no_callback_base(
    sms_without_callbacks: Deployment, twilio: TwilioPeer
) -> None:
    daemon = Daemon(sms_without_callbacks.config)
    names = list(daemon.runtime.channels)
    assert names.index("sms") < names.index("voice")
    assert daemon.runtime.channels["sms"].settings.status_callback_base is None
    app = build_app(daemon.metrics, daemon.ready, daemon.core_access())
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        seed(sms_without_callbacks, 1)
        path = "/twilio/inbound"  # as set in Twilio's console: no channel in the URL
        headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC + path, SIGNED_FORM)}
        response = await client.post(path, data=SIGNED_FORM, headers=headers)
        assert response.status == 200, await response.text()
        person = await daemon.store_thread.call(daemon.store.get_person, "P0")
        assert {o.channel for o in person.opt_outs} == {"sms"}
    finally:
        await client.close()
        daemon.store_thread.shutdown()
        daemon.store.close()
