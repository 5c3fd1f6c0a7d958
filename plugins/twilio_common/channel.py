"""What the SMS and voice channels share: the client, the sender's pacing, callback URLs and
the check of Twilio's signature on the callbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from twilio.rest import Client

from dispatcher.channel import Channel, Message, PermanentError, Reconciled, UnknownAttempt

from .client import make_client
from .limiter import LIMITERS, SenderLimiter
from .lookups import reconcile_with
from .settings import TwilioSettings, e164

STATUS_PATH = "/twilio/status"
INBOUND_PATH = "/twilio/inbound"


class TwilioChannel(Channel):
    """Base of the Twilio channels: ``open`` builds the client in the running loop and joins
    the sender's limiter; subclasses implement ``send`` with ``self.client``."""

    settings: TwilioSettings

    def __init__(self, name: str, settings: TwilioSettings) -> None:
        super().__init__(name, settings)
        self.settings = settings
        self._client: Client | None = None
        self._limiter: SenderLimiter | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise PermanentError(f"channel {self.name} is not open")
        return self._client

    async def open(self) -> None:
        if self._client is not None:
            return
        s = self.settings
        self._client = make_client(
            s.account_sid,
            s.auth_token.get_secret_value(),
            s.api_base,
            s.timeout.total_seconds(),
        )
        self._limiter = LIMITERS.join(s.sender, self.name, s.max_rate)

    async def close(self) -> None:
        if self._client is not None:
            http = self._client.http_client
            self._client = None
            LIMITERS.leave(self.settings.sender, self.name)
            await http.close()

    async def ready(self, message: Message) -> None:
        """Wait for this sender's next slot (shared by every channel of the process); the
        core decides again after the wait."""
        if self._limiter is not None:
            await self._limiter.acquire()

    def recipient(self, contact: str) -> str:
        """The number in E.164; an invalid one is refused before any request."""
        try:
            return e164(contact, self.settings.default_region)
        except ValueError:
            raise PermanentError(
                "not a valid phone number", mark_contact="invalid", code="invalid_number"
            ) from None

    def callback_url(self, attempt_id: str, **extra: str) -> str | None:
        """Where Twilio reports this attempt's fate: the attempt and channel in the query, so
        the callback resolves the attempt even if a crash kept its provider id unrecorded
        (the signature covers the whole URL)."""
        base = self.settings.status_callback_base
        if base is None:
            return None
        query = urlencode({"channel": self.name, "attempt": attempt_id, **extra})
        return f"{base}{STATUS_PATH}?{query}"

    def signed(self, path_qs: str, params: Mapping[str, str], signature: str) -> bool:
        """Whether Twilio signed this request with our auth token. The URL is rebuilt from the
        configured public base: behind a proxy the request's own URL is not the one signed."""
        base = self.settings.status_callback_base
        if base is None or not signature:
            return False
        validator = RequestValidator(self.settings.auth_token.get_secret_value())
        return bool(validator.validate(base + path_qs, dict(params), signature))

    # -- reconciliation ---------------------------------------------------------------------

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        """Look each attempt's message or call up at Twilio (``lookups``): by SID, else by
        recipient and sender around the instant it was claimed."""
        return await reconcile_with(attempts, self.recipient, self.created_to, self.fetch)

    async def created_to(self, to: str) -> list[datetime | None]:
        """When each of the latest resources this channel's sender made to ``to`` was created
        (the subclass lists its messages or calls)."""
        raise NotImplementedError

    async def fetch(self, sid: str) -> object:
        """The message or call ``sid``; TwilioRestException 404 when Twilio has none."""
        raise NotImplementedError
