"""The email channel: each reminder as one message over a pool of persistent SMTP
connections. ``ready`` takes a connection (waiting for one when the pool is busy), ``send``
carries the message on it at once, ``release`` gives it back. It only sends and classifies
what the server answered; the core retries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import aiosmtplib
from dispatcher_plugins.email.compose import compose, mailbox_header, message_id
from dispatcher_plugins.email.pool import PoolClosed, SmtpPool
from dispatcher_plugins.email.replies import ServerSetupError, refusal
from dispatcher_plugins.email.settings import RETRY_DEFAULTS, EmailSettings
from dispatcher_plugins.email.unsubscribe import make_token

from dispatcher.channel import (
    Channel,
    ChannelError,
    Message,
    PermanentError,
    SendResult,
    TransientError,
)
from dispatcher.model import ContactKind
from dispatcher.privacy import mask, scrub

log = logging.getLogger("dispatcher.email")


class EmailChannel(Channel):
    """Sends multipart text + HTML email through the configured SMTP server."""

    type_name = "email"
    contact_kind = ContactKind.EMAIL
    Settings = EmailSettings
    retry_defaults = RETRY_DEFAULTS

    def __init__(self, name: str, settings: EmailSettings) -> None:
        super().__init__(name, settings)
        self.settings: EmailSettings = settings
        self._pool: SmtpPool | None = None
        self._secret = settings.unsubscribe_secret.get_secret_value().encode()
        self._id_domain = settings.message_id_domain or settings.sender_address.split("@")[1]
        self._from = mailbox_header(settings.sender)
        self._reply_to = mailbox_header(settings.reply_to) if settings.reply_to else None
        # The configuration problem last logged (stage, code), until a message goes through.
        self._setup_fault: tuple[str, str | None] | None = None
        self._leases: dict[str, _Lease] = {}  # attempt id → the connection ``ready`` took

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

    async def ready(self, message: Message) -> None:
        """Build the message, then take a connection from the pool for it, waiting while all
        are in use: once confirmed, MAIL goes out at once. Connecting errors are classified
        as a send's."""
        pool = self._pool
        if pool is None:
            # Closed by a reload (or not yet open): the channel that replaces it sends it.
            raise TransientError("email channel is not open", code="closed")
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
        client, reused = await self._connected(pool.acquire())
        self._leases[message.attempt_id] = _Lease(pool, client, reused, data)

    def release(self, message: Message) -> None:
        lease = self._leases.pop(message.attempt_id, None)
        if lease is not None:
            lease.pool.give_back(lease.client, reusable=lease.reusable)

    async def send(self, message: Message) -> SendResult:
        lease = self._leases.get(message.attempt_id)
        if lease is None or lease.closed_since(self._pool):
            # Closed by a reload since ``ready``: nothing was sent; the channel that
            # replaces it sends it later.
            raise TransientError("email channel is not open", code="closed")
        try:
            return await self._transaction(lease, message)
        except _StaleConnection:
            # The server closed a pooled connection while it sat idle; nothing was sent on
            # it. A new one on the same slot: nobody else waits for it.
            lease.client = await self._connected(lease.pool.reconnect(lease.client))
            lease.reused = False
            return await self._transaction(lease, message)

    async def _connected(self, connecting: Awaitable[T]) -> T:
        """What ``connecting`` gives, its failures classified."""
        try:
            return await connecting
        except PoolClosed:
            # Closed (a reload) while this message waited: the new channel sends it later.
            raise TransientError("email channel is not open", code="closed") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise self._noted(refusal(_setup_stage(exc), exc.code, exc.message)) from None
        except OSError as exc:  # no connection, lost, timed out (aiosmtplib's included)
            raise TransientError(f"cannot connect: {_kind(exc)}", code="connect") from None
        except aiosmtplib.SMTPException as exc:
            # The server lacks what the settings ask for (STARTTLS, AUTH, a mechanism).
            error = ServerSetupError(
                f"cannot set up the connection: {scrub(str(exc))[:200]}",
                stage="connect",
                code="unsupported",
            )
            raise self._noted(error) from None

    async def _transaction(self, lease: _Lease, message: Message) -> SendResult:
        """MAIL, RCPT, DATA on the connection ``ready`` took, every failure classified."""
        client = lease.client
        lease.reusable = False
        stage = "mail"
        try:
            await client.mail(self.settings.sender_address)
            stage = "rcpt"
            await client.rcpt(message.contact)
            stage = "data"
            await client.data(lease.data)
            lease.reusable = True
        except aiosmtplib.SMTPResponseException as exc:
            lease.reusable = await _reset(client)
            raise self._noted(refusal(stage, exc.code, exc.message)) from None
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as exc:
            if lease.reused and stage == "mail":
                raise _StaleConnection from None
            raise _lost(stage, exc) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _lost(stage, exc) from None
        if self._setup_fault is not None:
            self._setup_fault = None
            log.info(
                "email server accepts messages again", extra={"fields": {"channel": self.name}}
            )
        log.debug("sent", extra={"fields": {"to": mask(ContactKind.EMAIL, message.contact)}})
        return SendResult(provider_id=message_id(message.attempt_id, self._id_domain))

    def _noted(self, error: ChannelError) -> ChannelError:
        """Log a configuration problem once (at error level, the stage and code only: the
        reply may quote an address), not once for every message it keeps queued."""
        if isinstance(error, ServerSetupError) and (error.stage, error.code) != self._setup_fault:
            self._setup_fault = (error.stage, error.code)
            log.error(
                "email server refuses this channel's setup; reminders stay queued until fixed",
                extra={
                    "fields": {
                        "channel": self.name,
                        "stage": error.stage,
                        "code": error.code,
                        "status": error.status,
                    }
                },
            )
        return error


T = TypeVar("T")


@dataclass(eq=False)
class _Lease:
    """The connection taken for one message, from ``ready`` to ``release``, and the message
    as it goes on the wire."""

    pool: SmtpPool
    client: aiosmtplib.SMTP
    reused: bool
    data: bytes
    reusable: bool = True  # may carry the next message once given back (unused: yes)

    def closed_since(self, pool: SmtpPool | None) -> bool:
        """Whether the channel's pool is no longer the one this connection came from (a
        reload closed the channel)."""
        return pool is not self.pool


class _StaleConnection(Exception):
    """A pooled connection turned out closed before the message began."""


def _setup_stage(exc: aiosmtplib.SMTPResponseException) -> str:
    """Which step of connecting a server refused."""
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return "greeting"
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return "ehlo"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "auth"
    return "starttls"  # the one other command aiosmtplib sends while connecting


def _lost(stage: str, exc: BaseException) -> TransientError:
    # Lost after DATA began, the server may have taken the message: ``attempted``, so the
    # core records it as unknown rather than sending it again. Before, nothing was sent.
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
