"""A real SMTP server on loopback (aiosmtpd, in a thread of its own) for the email channel's
tests: it keeps what it accepted, counts the connections made to it, and refuses, stalls or
holds on demand. With ``login=(user, password)`` it offers AUTH (without TLS, on loopback) and
takes only that login. ``on_mail`` is called at each MAIL with the recipients of the message the
same connection carried before (none on its first), for tests of what a connection carries
when."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

Stage = str  # "mail", "rcpt" or "data"
Scripted = int | str | None  # a code (standard text), a whole reply line, or None: accept

# The server's own protocol log quotes every address: it is the peer's, not the channel's, and
# would otherwise be blamed on the channel by the contract suite's personal-data check.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class SmtpPeer:
    """``received`` holds each accepted message (with its envelope recipients in
    ``rcpt_tos``); ``connections`` counts the sessions that said EHLO/HELO."""

    def __init__(self, *, login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.login = login
        self.logins_refused = 0
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections = 0
        self.quits = 0
        self.refusals: list[tuple[Stage, int]] = []
        self._script: dict[Stage, list[Scripted]] = {}
        self._stall = 0.0
        self._hold: threading.Event | None = None
        self.holding_data = threading.Event()  # set when a DATA reply is being held back
        # Called (in the server's thread) at each MAIL with the recipients of the message the
        # same connection accepted last (empty on its first message).
        self.on_mail: Callable[[list[str]], None] | None = None
        self._controller: Controller | None = None

    # -- what tests read -----------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """Messages accepted so far (the contract suite's delivery count)."""
        return len(self.received)

    # -- what tests provoke --------------------------------------------------------------------

    @contextlib.contextmanager
    def refusing(self, stage: Stage, *codes: Scripted) -> Iterator[None]:
        """Answer the next commands of ``stage`` with ``codes`` in turn (the last repeats;
        None means accept). A code gets a standard text; a string is the whole reply
        (``"550 5.7.1 Message rejected as spam"``)."""
        self._script[stage] = list(codes)
        try:
            yield
        finally:
            self._script.pop(stage, None)

    def refuse(self, stage: Stage, *codes: Scripted) -> None:
        """Like ``refusing``, until ``accept_all``."""
        self._script[stage] = list(codes)

    def accept_all(self) -> None:
        self._script.clear()

    @contextlib.contextmanager
    def stalling(self, seconds: float) -> Iterator[None]:
        """Hold back the reply to DATA for ``seconds``."""
        self._stall = seconds
        try:
            yield
        finally:
            self._stall = 0.0

    @contextlib.contextmanager
    def holding(self) -> Iterator[threading.Event]:
        """Hold back the replies to DATA until the event yielded is set (or the block ends);
        ``holding_data`` is set once a DATA reply waits."""
        hold = self._hold = threading.Event()
        self.holding_data.clear()
        try:
            yield hold
        finally:
            hold.set()
            self._hold = None

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Refuse connections (the server is stopped, its port closed)."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        auth: dict[str, Any] = (
            {"authenticator": self._authenticate, "auth_require_tls": False} if self.login else {}
        )
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpPeer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        given = (
            (data.login.decode(), data.password.decode())
            if isinstance(data, LoginPassword)
            else None
        )
        if given != self.login:
            self.logins_refused += 1
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True)

    def _scripted(self, stage: Stage) -> str | None:
        codes = self._script.get(stage)
        if not codes:
            return None
        code = codes.pop(0) if len(codes) > 1 else codes[0]
        if code is None:
            return None
        reply = _refusal(code) if isinstance(code, int) else code
        self.refusals.append((stage, int(reply[:3])))
        return reply


def _refusal(code: int) -> str:
    return f"{code} {code // 100}.{'1.1' if code == 550 else '0.0'} refused on request"


class _Handler:
    def __init__(self, peer: SmtpPeer) -> None:
        self.peer = peer

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peer.connections += 1
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.peer.quits += 1
        return "221 Bye"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.peer.on_mail is not None:
            self.peer.on_mail(list(getattr(session, "carried", [])))
        reply = self.peer._scripted("mail")
        if reply:
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.peer._scripted("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.peer._stall:
            await asyncio.sleep(self.peer._stall)
        hold = self.peer._hold
        if hold is not None:
            self.peer.holding_data.set()
            await asyncio.to_thread(hold.wait)
        reply = self.peer._scripted("data")
        if reply:
            return reply
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.peer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        session.carried = list(envelope.rcpt_tos)
        self.peer.received.append(parsed)
        return "250 2.0.0 accepted"
