"""Signed unsubscribe links (RFC 8058 one-click) and the routes that honour them.

A link is ``<public_url>/email/unsubscribe/<token>``. The token names the person and the
channel that sent it and carries a keyed digest of the address instead of the address itself,
so a link that leaks (a forwarded email, a proxy log) tells nobody the address; the handler
finds the address again among the person's email contact points. The whole token is signed
with the channel's ``unsubscribe_secret`` (HMAC-SHA256), so it cannot be forged or pointed at
another person, channel or address. Links do not expire: an opt-out must stay possible for as
long as the email may be read.

``GET`` shows a page asking to confirm (mail scanners follow links; a GET must not opt anyone
out); ``POST`` (the one-click request a mail client sends, or the page's button) records the
opt-out of that address for every configured email channel, so no email reaches it any more
(other channel types, SMS or letters, are not affected). POSTing again changes nothing more.
The channel named in the token verifies it; when it is no longer configured as an email
channel, any email channel whose secret signed the token does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from dispatcher_plugins.email.settings import EmailSettings

from dispatcher.model import ContactKind

if TYPE_CHECKING:
    from dispatcher.services import Services

log = logging.getLogger("dispatcher.email.unsubscribe")

ROUTE = "/email/unsubscribe/{token}"
SOURCE = "email-unsubscribe"
_DIGEST_BYTES = 12  # of the address: 96 bits, far past any collision among one person's
_SIGNATURE_BYTES = 16  # 128-bit tag


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """``text`` decoded, only when it is the canonical unpadded base64url of what it decodes
    to: the decoder ignores the spare low bits of the last character, so without this check
    a link with that character changed would still be accepted (RFC 4648 §3.5)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not the canonical encoding")
    return raw


def address_digest(secret: bytes, address: str) -> bytes:
    # Case-insensitive: the domain part is, and providers treat the local part so in practice.
    normalised = address.strip().lower().encode("utf-8")
    return hmac.new(secret, b"address\0" + normalised, hashlib.sha256).digest()[:_DIGEST_BYTES]


def _signature(secret: bytes, payload: str) -> bytes:
    mac = hmac.new(secret, b"unsubscribe\0" + payload.encode("ascii"), hashlib.sha256)
    return mac.digest()[:_SIGNATURE_BYTES]


def make_token(secret: bytes, channel: str, person_id: str, address: str) -> str:
    """The token for ``address`` of ``person_id`` on ``channel``."""
    payload = ".".join(
        (
            _b64(person_id.encode("utf-8")),
            _b64(channel.encode("utf-8")),
            _b64(address_digest(secret, address)),
        )
    )
    return f"{payload}.{_b64(_signature(secret, payload))}"


@dataclass(frozen=True)
class Unsubscribe:
    """What a token says, before its signature is checked."""

    person_id: str
    channel: str
    digest: bytes
    payload: str
    signature: bytes

    @classmethod
    def parse(cls, token: str) -> Unsubscribe | None:
        parts = token.split(".")
        if len(parts) != 4:
            return None
        try:
            person, channel, digest, signature = (_unb64(part) for part in parts)
            return cls(
                person.decode("utf-8"),
                channel.decode("utf-8"),
                digest,
                ".".join(parts[:3]),
                signature,
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None

    def signed_by(self, secret: bytes) -> bool:
        return hmac.compare_digest(self.signature, _signature(secret, self.payload))


def _page(title: str, text: str, *, status: int = 200, form: bool = False) -> web.Response:
    button = (
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        if form
        else ""
    )
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{html.escape(title)}</title></head>"
        f'<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{button}</body></html>"
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        # A one-time-looking page with a personal token: no caching, no referrer leak.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


FORBIDDEN = ("Link not valid", "This unsubscribe link is not valid. Nothing was changed.")


async def _address(services: Services, request: web.Request) -> tuple[Unsubscribe, str] | None:
    """The verified token and the address it stands for, or None (answer 403/404)."""
    unsubscribe = Unsubscribe.parse(request.match_info["token"])
    if unsubscribe is None:
        return None
    secret = signing_secret(email_channels(services), unsubscribe)
    if secret is None:
        return None
    person = await services.person(unsubscribe.person_id)
    for contact in person.contacts if person else ():
        if contact.kind is ContactKind.EMAIL and hmac.compare_digest(
            address_digest(secret, contact.value), unsubscribe.digest
        ):
            return unsubscribe, contact.value
    return unsubscribe, ""


def email_channels(services: Services) -> dict[str, bytes]:
    """The name and unsubscribe secret of each configured channel of the email type
    (``EmailChannel.type_name``), looked up on each request: the config may be reloaded."""
    return {
        channel.name: channel.settings.unsubscribe_secret.get_secret_value().encode()
        for channel in services.channels("email")
        if isinstance(channel.settings, EmailSettings)
    }


def signing_secret(secrets: dict[str, bytes], unsubscribe: Unsubscribe) -> bytes | None:
    """Of ``secrets`` (by channel name), the one that signed the token: the named channel's
    first, then any other's (the named channel may have been renamed or removed since the
    email went out)."""
    named = secrets.get(unsubscribe.channel)
    others = [secret for name, secret in secrets.items() if name != unsubscribe.channel]
    for secret in ([named] if named else []) + others:
        if unsubscribe.signed_by(secret):
            return secret
    return None


def add_routes(app: web.Application, services: Services) -> None:
    """``GET`` and ``POST`` on ``/email/unsubscribe/{token}``."""

    async def confirm(request: web.Request) -> web.Response:
        found = await _address(services, request)
        if found is None:
            return _page(*FORBIDDEN, status=403)
        if not found[1]:
            return _page("Already removed", "This address is no longer on file.", status=404)
        return _page(
            "Unsubscribe",
            "Stop sending payment reminders by email to this address?",
            form=True,
        )

    async def opt_out(request: web.Request) -> web.Response:
        found = await _address(services, request)
        if found is None:
            log.warning("unsubscribe refused: link not valid")
            return _page(*FORBIDDEN, status=403)
        unsubscribe, address = found
        if not address:
            return _page("Already removed", "This address is no longer on file.", status=404)
        # This address on every channel ("*" narrowed to the address): only email channels
        # write to an email address, so it covers each of them, one configured later too,
        # while SMS and letters go on. One store transaction.
        await services.opt_out(unsubscribe.person_id, "*", address, source=SOURCE)
        log.info(
            "email opt-out recorded",
            extra={"fields": {"person": unsubscribe.person_id, "channel": unsubscribe.channel}},
        )
        return _page("Unsubscribed", "You will get no more reminders by email at this address.")

    app.router.add_get(ROUTE, confirm)
    app.router.add_post(ROUTE, opt_out)
