"""Signed links to the person's own page (``<base_url>/s/<token>``).

A token is ``<case id>.<last day>.<tag>``: the case id in unpadded base64url, the last day
the link is valid (days since 1970-01-01, UTC), and an HMAC-SHA256 tag of both under
``[self_service] secret``, cut to 128 bits — unguessable, and any change to the case or the
day breaks it. A link made on one day for ``link_days`` lasts to the end of that many days
after, so every message of one day carries the same link. The page's forms carry a CSRF
value derived from the token under the same key: only a page shown for that link has it.

Tokens are never logged: they open the page of one case to whoever holds them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from dispatcher.config.dispatcher_file import SelfServiceSettings
from dispatcher.config.secrets import resolve_secret

log = logging.getLogger("dispatcher.links")

PATH = "/s/"
_TAG_BYTES = 16
_EPOCH = date(1970, 1, 1)
_MAX_TOKEN = 400  # characters: a case id is at most 128


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    # Only the canonical encoding: the decoder ignores a last character's spare bits, so a
    # link with that character changed would otherwise still read (RFC 4648 §3.5).
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not the canonical encoding")
    return raw


class LinkState(Enum):
    VALID = "valid"
    ALTERED = "altered"  # not a token this key signed (changed, forged, truncated)
    EXPIRED = "expired"  # signed, but past its last day


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    case_id: str = ""
    last_day: date | None = None


@dataclass(frozen=True)
class LinkSigner:
    """Makes and checks the links of one config: its key, base URL and lifetime."""

    key: bytes
    base_url: str
    link_days: int

    def _tag(self, purpose: bytes, payload: str) -> bytes:
        mac = hmac.new(self.key, purpose + b"\0" + payload.encode("ascii"), hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def token(self, case_id: str, last_day: date) -> str:
        payload = f"{_b64(case_id.encode('utf-8'))}.{(last_day - _EPOCH).days}"
        return f"{payload}.{_b64(self._tag(b'self-service', payload))}"

    def url(self, case_id: str, now: datetime) -> str:
        """The link for ``case_id`` made at ``now``: valid through ``link_days`` days more."""
        last_day = now.astimezone(UTC).date() + timedelta(days=self.link_days)
        return f"{self.base_url}{PATH}{self.token(case_id, last_day)}"

    def check(self, token: str, now: datetime) -> LinkCheck:
        """What ``token`` is at ``now``; the tag is compared in constant time."""
        parts = token.split(".") if len(token) <= _MAX_TOKEN else []
        # ASCII digits only: str.isdigit() also takes other scripts' digits ("٣").
        if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 7:
            return LinkCheck(LinkState.ALTERED)
        payload = f"{parts[0]}.{parts[1]}"
        try:
            tag = _unb64(parts[2])
            case_id = _unb64(parts[0]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return LinkCheck(LinkState.ALTERED)
        if not hmac.compare_digest(tag, self._tag(b"self-service", payload)):
            return LinkCheck(LinkState.ALTERED)
        last_day = _EPOCH + timedelta(days=int(parts[1]))
        if now.astimezone(UTC).date() > last_day:
            return LinkCheck(LinkState.EXPIRED, case_id, last_day)
        return LinkCheck(LinkState.VALID, case_id, last_day)

    def csrf(self, token: str) -> str:
        """The value the page's forms for ``token`` carry."""
        return _b64(self._tag(b"csrf", token))

    def csrf_ok(self, token: str, presented: str) -> bool:
        return hmac.compare_digest(self.csrf(token).encode(), presented.encode("utf-8", "replace"))


def build_signer(settings: SelfServiceSettings | None) -> tuple[LinkSigner | None, str | None]:
    """The signer of ``[self_service]``, or None and why (no section, the secret unreadable
    or too short) — logged by reason, never by value."""
    if settings is None:
        return None, "no [self_service] in dispatcher.toml"
    try:
        secret = resolve_secret(settings.secret).strip()
    except ValueError as exc:
        reason = f"[self_service] secret: {exc}"
    else:
        if len(secret) >= 16:
            return LinkSigner(secret.encode("utf-8"), settings.base_url, settings.link_days), None
        reason = "[self_service] secret: shorter than 16 characters"
    log.warning("self-service page off", extra={"fields": {"reason": reason}})
    return None, reason
