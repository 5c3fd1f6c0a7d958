"""The email channel passes the same contract suite as any outside channel, against a real
SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dispatcher_plugins.email import EmailChannel
from dispatcher_plugins.email.replies import MAILBOX_FULL_RETRY_AFTER, SETUP_RETRY_AFTER

from dispatcher.testing import ChannelContract, Failure
from tests.plugins.smtp_peer import SmtpPeer

SECRET = "unsubscribe-secret-for-tests"


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    with SmtpPeer() as peer:
        yield peer


class TestEmailContract(ChannelContract):
    channel_class = EmailChannel
    entry_point = "email"
    capacity = 2  # pool_size below

    @pytest.fixture
    def peer(self, smtp: SmtpPeer) -> SmtpPeer:
        return smtp

    @pytest.fixture
    def valid_settings(self, smtp: SmtpPeer) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": smtp.port,
            "tls": "none",
            "from": "Acme Lending <billing@acme.example>",
            "public_url": "https://reminders.acme.example",
            "unsubscribe_secret": SECRET,
            "command_timeout": "1s",
            "connect_timeout": "1s",
            "pool_size": 2,
        }

    @pytest.fixture
    def bad_settings(self, valid_settings: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        return [
            ({**valid_settings, "from": "billing at acme"}, "from"),
            ({**valid_settings, "reply_to": "nobody"}, "reply_to"),
            ({**valid_settings, "tls": "sometimes"}, "tls"),
            ({**valid_settings, "port": 70000}, "port"),
            ({**valid_settings, "pool_size": 0}, "pool_size"),
            ({**valid_settings, "public_url": "http://reminders.acme.example"}, "public_url"),
            ({**valid_settings, "unsubscribe_secret": "short"}, "unsubscribe_secret"),
            ({**valid_settings, "command_timeout": "1h"}, "command_timeout"),
            ({**valid_settings, "username": "acme"}, "password"),
            (
                {**valid_settings, "host": "smtp.acme.example", "username": "a", "password": "p"},
                "tls",
            ),
        ]

    @pytest.fixture
    def transient_failures(self, smtp: SmtpPeer) -> list[Failure]:
        return [
            Failure("mailbox busy (451 at RCPT)", lambda _: smtp.refusing("rcpt", 451)),
            Failure("server busy (421 at MAIL)", lambda _: smtp.refusing("mail", 421)),
            Failure("try later (452 at DATA)", lambda _: smtp.refusing("data", 452)),
            Failure("no answer in time", lambda _: smtp.stalling(3)),
            Failure("server down", lambda _: smtp.down()),
            Failure(
                "mailbox full (552 5.2.2 at RCPT)",
                lambda _: smtp.refusing("rcpt", "552 5.2.2 Mailbox full"),
                retry_after=MAILBOX_FULL_RETRY_AFTER,
            ),
            Failure(
                "login required (530 5.7.0 at MAIL): the server's setup, not the reminder",
                lambda _: smtp.refusing("mail", "530 5.7.0 Authentication required"),
                retry_after=SETUP_RETRY_AFTER,
            ),
            Failure(
                "sender refused (553 at MAIL): the sender's setup, not the reminder",
                lambda _: smtp.refusing("mail", 553),
                retry_after=SETUP_RETRY_AFTER,
            ),
        ]

    @pytest.fixture
    def permanent_failures(self, smtp: SmtpPeer) -> list[Failure]:
        return [
            Failure(
                "no such mailbox (550 at RCPT)",
                lambda _: smtp.refusing("rcpt", 550),
                mark_contact="invalid",
            ),
            Failure("refused (554 at DATA)", lambda _: smtp.refusing("data", 554)),
            Failure(
                "refused as spam (550 5.7.1 at DATA)",
                lambda _: smtp.refusing("data", "550 5.7.1 Message rejected as spam"),
            ),
            Failure(
                "mailbox disabled (550 5.2.1 at RCPT)",
                lambda _: smtp.refusing("rcpt", "550 5.2.1 Mailbox disabled"),
                mark_contact="invalid",
            ),
        ]
