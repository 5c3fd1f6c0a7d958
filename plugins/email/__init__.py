"""``email``: reminders as multipart text + HTML email over persistent SMTP connections
(aiosmtplib), with signed one-click unsubscribe links served by the daemon.

Settings: ``EmailSettings`` (``settings.py``); the pool: ``pool.py``; the message: ``compose.py``;
the unsubscribe links and routes: ``unsubscribe.py``. See docs/channels.md, "Email".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from dispatcher_plugins.email.channel import EmailChannel
from dispatcher_plugins.email.settings import EmailSettings, TlsMode
from dispatcher_plugins.email.unsubscribe import add_routes

from dispatcher.channel import Channel
from dispatcher.hookspecs import hookimpl

if TYPE_CHECKING:
    from dispatcher.services import Services

__all__ = ["EmailChannel", "EmailSettings", "TlsMode"]


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The email channel type."""
    register(EmailChannel)


@hookimpl
def register_routes(app: web.Application, services: Services) -> None:
    """The unsubscribe links: ``/email/unsubscribe/{token}`` (GET confirms, POST opts out)."""
    add_routes(app, services)
