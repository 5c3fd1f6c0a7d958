"""``letter``: a formal letter rendered to PDF (A4 or US letter, Latin and Chinese text), then
spooled for a print house (``provider = "spool"``) or posted through Lob (``"lob"``).

Letters are posted, not received at an hour: the channel is window-exempt; case state and
opt-outs still apply, in the core. The PDF is rendered in ``ready`` (with Lob, once one of the
channel's HTTP slots is free), so ``send`` only posts or spools it.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from dispatcher_plugins.letter.address import AddressError, addressee_and_letter, recipient
from dispatcher_plugins.letter.lob import (
    HTTP_SLOTS,
    IDEMPOTENT_FOR,
    LobSetupError,
    letter_form,
    post_letter,
)
from dispatcher_plugins.letter.pdf import Layout, bundled_font, render_letter
from dispatcher_plugins.letter.settings import LetterSettings
from dispatcher_plugins.letter.spool import Spool

from dispatcher.channel import (
    Channel,
    Message,
    PermanentError,
    Reconciled,
    SendResult,
    Slots,
    TransientError,
    UnknownAttempt,
)
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind
from dispatcher.privacy import mask

log = logging.getLogger("dispatcher_plugins.letter")


class LetterChannel(Channel):
    """Renders each message to a PDF and hands it to the configured provider."""

    type_name = "letter"
    contact_kind = ContactKind.POSTAL
    window_exempt = True
    Settings = LetterSettings

    def __init__(self, name: str, settings: LetterSettings) -> None:
        super().__init__(name, settings)
        self.settings: LetterSettings = settings
        self.layout = Layout(
            page_size=settings.page_size,
            sender_lines=tuple(settings.sender.lines()),
            font=settings.font or bundled_font(),
            # Lob prints the addresses on the letter itself.
            print_window=settings.provider == "spool",
        )
        self.spool = Spool(settings.directory, fsync=settings.fsync)
        self._session: aiohttp.ClientSession | None = None
        self._open = False
        # The Lob status last logged as a configuration problem, until a letter goes through.
        self._setup_fault: int | None = None
        # Requests to Lob at once: at most the session's connections, so a post never waits.
        self._slots = Slots(HTTP_SLOTS)
        self._rendered: dict[str, tuple[bytes, Any]] = {}  # attempt id → PDF and recipient

    async def open(self) -> None:
        if self.settings.provider == "lob" and self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout.total_seconds())
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(limit=HTTP_SLOTS)
            )
        self._open = True

    async def close(self) -> None:
        self._open = False
        if self._session is not None:
            await self._session.close()
            self._session = None

    def render(self, message: Message) -> tuple[bytes, Any]:
        """The letter's PDF and its recipient; PermanentError when it cannot be laid out."""
        try:
            name, text = addressee_and_letter(message.body)
            to = recipient(name, message.contact, self.settings.default_country)
        except AddressError as exc:
            raise PermanentError(str(exc), code="layout") from None
        pdf = render_letter(
            self.layout,
            to,
            text,
            html=getattr(message, "html", None),
            subject=message.subject,
            dated=datetime.now(UTC).date(),
            locale=message.locale,
        )
        return pdf, to

    async def ready(self, message: Message) -> None:
        """Take an HTTP slot (Lob), then render the PDF, off the dispatch loop (a good part
        of a second of CPU): ``send`` only hands it over."""
        if not self._open:
            raise PermanentError("letter channel is not open")
        lob = self.settings.provider == "lob"
        if lob:
            await self._slots.take(message)
        try:
            self._rendered[message.attempt_id] = await asyncio.to_thread(self.render, message)
        except BaseException:
            self._slots.give_back(message)
            raise

    def release(self, message: Message) -> None:
        self._rendered.pop(message.attempt_id, None)
        self._slots.give_back(message)

    async def send(self, message: Message) -> SendResult:
        if not self._open:
            raise PermanentError("letter channel is not open")
        rendered = self._rendered.get(message.attempt_id)
        if rendered is None:
            raise PermanentError("letter sent without ready: the core calls ready first")
        pdf, to = rendered
        log.debug(
            "letter rendered",
            extra={
                "fields": {
                    "attempt": message.attempt_id,
                    "to": mask(ContactKind.POSTAL, message.contact),
                    "bytes": len(pdf),
                }
            },
        )
        if self.settings.provider == "lob":
            return await self._post(message, to, pdf)
        return await asyncio.to_thread(self._spool, message, pdf)

    async def _post(self, message: Message, to: Any, pdf: bytes) -> SendResult:
        if self._session is None:
            raise PermanentError("letter channel is not open")
        try:
            form = letter_form(self.settings, message.attempt_id, to, pdf, datetime.now(UTC))
        except AddressError as exc:
            raise PermanentError(str(exc), code="address_format") from None
        try:
            result = await post_letter(self._session, self.settings, message.attempt_id, form)
        except LobSetupError as exc:
            if exc.status != self._setup_fault:
                # Once, not for every letter it keeps queued; never the key itself.
                self._setup_fault = exc.status
                log.error(
                    "Lob refuses this channel's settings; letters stay queued until fixed",
                    extra={"fields": {"channel": self.name, "status": exc.status}},
                )
            raise
        if self._setup_fault is not None:
            self._setup_fault = None
            log.info("Lob accepts letters again", extra={"fields": {"channel": self.name}})
        return result

    # Lob dedupes by idempotency key (the attempt id): an unknown letter is posted again.
    reconcile_resends = True

    def reconciles(self) -> bool:
        """Only through Lob: a spooled letter's fate is the print house's to tell."""
        return self.settings.provider == "lob"

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        """Through Lob, post each unknown letter again under its attempt id, within the 24
        hours Lob keeps the key: Lob answers with the letter it made or makes it now, never
        a second (``resend_to_reconcile``). A spooled letter, one older than that, or one the core
        gave no message for (the case moved on, the address changed) stays unknown."""
        answers: dict[str, Reconciled] = {}
        now = datetime.now(UTC)
        for attempt in attempts:
            forgotten = now - attempt.at > IDEMPOTENT_FOR  # Lob no longer knows the key
            if self.settings.provider != "lob" or forgotten:
                answers[attempt.attempt_id] = Reconciled.UNKNOWN
            else:
                answers[attempt.attempt_id] = await self.resend_to_reconcile(attempt)
        return answers

    def _spool(self, message: Message, pdf: bytes) -> SendResult:
        manifest = {
            "attempt_id": message.attempt_id,
            "reminder_id": message.reminder_id,
            "case_id": message.case_id,
            "channel": message.channel,
            "template": message.template,
            "locale": message.locale,
            "page_size": self.settings.page_size,
            "mail_type": self.settings.mail_type,
            "extra_service": self.settings.extra_service,
            "color": self.settings.color,
            "pdf": f"{message.attempt_id}.pdf",
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "bytes": len(pdf),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            self.spool.write(message.attempt_id, pdf, manifest)
        except OSError as exc:  # a full or failing disk: worth trying again later
            code = errno.errorcode.get(exc.errno or 0, "oserror")
            raise TransientError(f"letter not spooled: {exc.strerror}", code=code) from None
        return SendResult(provider_id=f"spool:{message.attempt_id}")


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The letter channel type."""
    register(LetterChannel)
