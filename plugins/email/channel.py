"""The email channel: each reminder as one message over a pool of persistent SMTP
connections. It only sends and classifies what the server answered; the core retries."""

from __future__ import annotations

import logging
import re

import aiosmtplib
from dispatcher_plugins.email.compose import compose, mailbox_header, message_id
from dispatcher_plugins.email.pool import SmtpPool
from dispatcher_plugins.email.settings import EmailSettings
from dispatcher_plugins.email.unsubscribe import make_token

from dispatcher.channel import Channel, Message, PermanentError, SendResult, TransientError
from dispatcher.model import ContactKind
from dispatcher.privacy import mask, scrub

log = logging.getLogger("dispatcher.email")

# RFC 3463 enhanced codes 5.1.x are about the address (bad mailbox, bad domain, moved).
_ADDRESS_STATUS = re.compile(r"^\s*5\.1\.\d+\b")
# Basic codes that name the mailbox when a server gives them after DATA (some refuse the
# recipient only then): mailbox unavailable, not local, name not allowed.
_ADDRESS_CODES_AFTER_DATA = (550, 551, 553)


class EmailChannel(Channel):
    """Sends multipart text + HTML email through the configured SMTP server."""

    type_name = "email"
    contact_kind = ContactKind.EMAIL
    Settings = EmailSettings

    def __init__(self, name: str, settings: EmailSettings) -> None:
        super().__init__(name, settings)
        self.settings: EmailSettings = settings
        self._pool: SmtpPool | None = None
        self._secret = settings.unsubscribe_secret.get_secret_value().encode()
        self._id_domain = settings.message_id_domain or settings.sender_address.split("@")[1]
        self._from = mailbox_header(settings.sender)
        self._reply_to = mailbox_header(settings.reply_to) if settings.reply_to else None

    @property
    def connections_opened(self) -> int:
        return self._pool.opened if self._pool else 0

    async def open(self) -> None:
        # Connections are made on first use: a server that is down at start-up delays mail,
        # not the daemon.
        if self._pool is None:
            self._pool = SmtpPool(self.settings)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def unsubscribe_url(self, person_id: str, address: str) -> str:
        token = make_token(self._secret, self.name, person_id, address)
        return f"{self.settings.public_url}/email/unsubscribe/{token}"

    async def send(self, message: Message) -> SendResult:
        pool = self._pool
        if pool is None:
            raise PermanentError("email channel is not open", code="not_open")
        if not message.contact.isascii():
            # Would need SMTPUTF8 end to end, which most relays do not offer.
            raise PermanentError("address is not ASCII", code="address_not_ascii")
        data = compose(
            message,
            sender=self._from,
            reply_to=self._reply_to,
            id_domain=self._id_domain,
            unsubscribe_url=self.unsubscribe_url(message.person_id, message.contact),
        )
        try:
            return await self._transaction(pool, message, data, fresh=False)
        except _StaleConnection:
            # The server closed a pooled connection while it sat idle; nothing was sent on it.
            return await self._transaction(pool, message, data, fresh=True)

    async def _transaction(
        self, pool: SmtpPool, message: Message, data: bytes, *, fresh: bool
    ) -> SendResult:
        """MAIL, RCPT, DATA on one connection from the pool, every failure classified."""
        try:
            client, reused = await pool.acquire(fresh=fresh)
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials fail every message alike: keep them queued until fixed.
            raise TransientError(f"login refused ({exc.code})", code="auth") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TransientError(f"cannot connect: {_kind(exc)}", code="connect") from None
        stage = "mail"
        reusable = False
        try:
            await client.mail(self.settings.sender_address)
            stage = "rcpt"
            await client.rcpt(message.contact)
            stage = "data"
            await client.data(data)
            reusable = True
        except aiosmtplib.SMTPResponseException as exc:
            reusable = await _reset(client)
            raise _refusal(stage, exc) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            if reused and stage == "mail":
                raise _StaleConnection from None
            raise _lost(stage, exc) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _lost(stage, exc) from None
        finally:
            pool.release(client, reusable=reusable)
        log.debug("sent", extra={"fields": {"to": mask(ContactKind.EMAIL, message.contact)}})
        return SendResult(provider_id=message_id(message.attempt_id, self._id_domain))


class _StaleConnection(Exception):
    """A pooled connection turned out closed before the message began."""


def _lost(stage: str, exc: BaseException) -> TransientError:
    # Lost after DATA began, the server may have taken the message: it counts.
    return TransientError(
        f"connection failed during {stage.upper()}: {_kind(exc)}",
        code="timeout" if isinstance(exc, TimeoutError) else "disconnected",
        attempted=stage == "data",
    )


def _kind(exc: BaseException) -> str:
    return type(exc).__name__


async def _reset(client: aiosmtplib.SMTP) -> bool:
    """RSET after a refusal, so the connection can carry the next message; False when the
    connection is no good any more."""
    if not client.is_connected:
        return False
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        return False
    return True


def _refusal(stage: str, exc: aiosmtplib.SMTPResponseException) -> Exception:
    """The error for a refusal at ``stage``: 4xx is worth trying again, 5xx is not; a 5xx
    about the recipient marks the address undeliverable."""
    code = exc.code
    reply = scrub(exc.message)[:200]
    text = f"server refused {stage.upper()} with {code}: {reply}"
    if 400 <= code < 500:
        return TransientError(text, code=str(code))
    about_address = stage == "rcpt" or (
        stage == "data"
        and (code in _ADDRESS_CODES_AFTER_DATA or bool(_ADDRESS_STATUS.match(exc.message)))
    )
    return PermanentError(text, code=str(code), mark_contact="invalid" if about_address else None)
