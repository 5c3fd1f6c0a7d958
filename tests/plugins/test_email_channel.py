"""What the email channel puts on the wire, checked at a real SMTP server on loopback: the
headers and decoded bodies, the unsubscribe link, connection reuse, how refusals are
classified, and connections in use when the channel closes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from dispatcher_plugins.email import EmailChannel, EmailSettings
from dispatcher_plugins.email.replies import (
    MAILBOX_FULL_RETRY_AFTER,
    SETUP_RETRY_AFTER,
    ServerSetupError,
)
from dispatcher_plugins.email.unsubscribe import (
    Unsubscribe,
    address_digest,
    make_token,
    signing_secret,
)

from dispatcher.channel import PermanentError, TransientError
from dispatcher.model import ContactKind
from dispatcher.testing import deliver, sample_message
from tests.plugins.smtp_peer import SmtpPeer

SECRET = "unsubscribe-secret-for-tests"
ZH_SUBJECT = "示例借贷公司：您的 1,234.50 CNY 款项已逾期"
ZH_BODY = "尊敬的张伟：\n\n您账户 C-1 的款项已逾期 7 天。"
ZH_HTML = "<p>尊敬的张伟：</p><p>您账户 C-1 的款项已逾期 7 天。</p>"


def settings(peer: SmtpPeer, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": peer.port,
        "tls": "none",
        "from": "示例借贷公司 <billing@acme.example>",
        "reply_to": "Accounts <accounts@acme.example>",
        "public_url": "https://reminders.acme.example/",
        "unsubscribe_secret": SECRET,
        "pool_size": 3,
        **overrides,
    }
    return EmailSettings.model_validate(values)


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    with SmtpPeer() as peer:
        yield peer


@pytest.fixture
async def channel(smtp: SmtpPeer) -> AsyncIterator[EmailChannel]:
    channel = EmailChannel("email", settings(smtp))
    await channel.open()
    yield channel
    await channel.close()


async def quit_seen(smtp: SmtpPeer) -> None:
    """Wait for the server to see a QUIT: one sent after ``close`` goes out in the background
    (giving a connection back never waits)."""
    for _ in range(3000):
        if smtp.quits:
            return
        await asyncio.sleep(0.01)


def parts(mail: EmailMessage) -> dict[str, str]:
    """Each leaf part's decoded text by content type (line ends as written, not as sent)."""
    leaves = [part for part in mail.walk() if not part.is_multipart()]
    return {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in leaves}


async def test_a_chinese_message_arrives_with_its_headers_and_both_parts(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    message = sample_message(
        ContactKind.EMAIL,
        attempt_id="a1b2c3",
        person_id="P-7",
        subject=ZH_SUBJECT,
        body=ZH_BODY,
        html=ZH_HTML,
        locale="zh-CN",
    )

    result = await deliver(channel, message)

    [mail] = smtp.received
    assert smtp.envelopes == [("billing@acme.example", [message.contact])]
    assert mail["Subject"] == ZH_SUBJECT
    assert mail["From"] == "示例借贷公司 <billing@acme.example>"
    assert mail["To"] == message.contact
    assert mail["Reply-To"] == "Accounts <accounts@acme.example>"
    assert mail["Message-ID"] == "<a1b2c3@acme.example>" == result.provider_id
    assert mail.get_content_type() == "multipart/alternative"
    assert parts(mail) == {"text/plain": ZH_BODY + "\n", "text/html": ZH_HTML + "\n"}
    assert {part.get_content_charset() for part in mail.walk() if not part.is_multipart()} == {
        "utf-8"
    }
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"]
    prefix = "<https://reminders.acme.example/email/unsubscribe/"
    assert link.startswith(prefix) and link.endswith(">")
    token = Unsubscribe.parse(link.removeprefix(prefix).removesuffix(">"))
    assert token is not None and token.signed_by(SECRET.encode())
    assert (token.person_id, token.channel) == ("P-7", "email")
    assert token.digest == address_digest(SECRET.encode(), message.contact)
    assert message.contact.split("@")[0] not in link, "the link does not carry the address"


async def test_a_message_without_html_is_plain_text(smtp: SmtpPeer, channel: EmailChannel) -> None:
    await deliver(channel, sample_message(ContactKind.EMAIL, body="Pay please"))
    [mail] = smtp.received
    assert parts(mail) == {"text/plain": "Pay please\n"}


async def test_the_same_attempt_gets_the_same_message_id(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    await deliver(channel, sample_message(ContactKind.EMAIL, attempt_id="same"))
    await deliver(channel, sample_message(ContactKind.EMAIL, attempt_id="same"))
    assert [m["Message-ID"] for m in smtp.received] == ["<same@acme.example>"] * 2


async def test_the_pool_reuses_its_connections(smtp: SmtpPeer, channel: EmailChannel) -> None:
    await asyncio.gather(*(deliver(channel, sample_message(ContactKind.EMAIL)) for _ in range(30)))
    await asyncio.gather(*(deliver(channel, sample_message(ContactKind.EMAIL)) for _ in range(30)))

    assert smtp.requests == 60
    assert 1 <= smtp.connections <= 3, "at most pool_size connections, each used again"
    assert channel.connections_opened == smtp.connections


async def test_a_refused_recipient_keeps_the_connection(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    await deliver(channel, sample_message(ContactKind.EMAIL))
    with smtp.refusing("rcpt", 550), pytest.raises(PermanentError) as refused:
        await deliver(channel, sample_message(ContactKind.EMAIL))
    await deliver(channel, sample_message(ContactKind.EMAIL))

    assert refused.value.mark_contact == "invalid" and refused.value.code == "550"
    assert (smtp.requests, smtp.connections) == (2, 1)


async def test_a_dropped_connection_is_replaced(smtp: SmtpPeer, channel: EmailChannel) -> None:
    await deliver(channel, sample_message(ContactKind.EMAIL))
    smtp.stop()  # closes the pooled connection from the server's side
    smtp.start()
    await deliver(channel, sample_message(ContactKind.EMAIL))
    assert (smtp.requests, smtp.connections) == (2, 2)


async def test_close_ends_every_connection_and_a_send_after_it_fails(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    await asyncio.gather(*(deliver(channel, sample_message(ContactKind.EMAIL)) for _ in range(6)))
    before = smtp.connections
    await channel.close()
    with pytest.raises(TransientError) as closed:  # nothing sent: the next channel sends it
        await deliver(channel, sample_message(ContactKind.EMAIL))
    assert not closed.value.attempted
    await channel.open()
    await deliver(channel, sample_message(ContactKind.EMAIL))
    assert smtp.connections == before + 1, "the connections closed were not used again"
    assert smtp.quits == before


def test_settings_defaults_follow_the_tls_mode(smtp: SmtpPeer) -> None:
    assert settings(smtp, port=None, tls="starttls").smtp_port == 587
    assert settings(smtp, port=None, tls="implicit").smtp_port == 465
    assert settings(smtp, port=None, tls="none").smtp_port == 25
    assert settings(smtp).public_url == "https://reminders.acme.example"


async def test_a_long_subject_and_lines_starting_with_a_dot_arrive_unchanged(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    subject = "逾期提醒 " * 40
    body = ".\n.. a line that starts with dots\nend"
    await deliver(channel, sample_message(ContactKind.EMAIL, subject=subject.strip(), body=body))
    [mail] = smtp.received
    assert mail["Subject"] == subject.strip()
    assert parts(mail) == {"text/plain": body + "\n"}


# -- refusals, classified at the server ------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "mark"),
    [
        ("550 5.7.1 Message rejected as spam", None),  # the content: the address stays usable
        ("550 5.1.1 User unknown", "invalid"),  # the recipient, refused only after DATA
    ],
)
async def test_a_refusal_at_data_marks_the_address_only_when_it_names_it(
    smtp: SmtpPeer, channel: EmailChannel, reply: str, mark: str | None
) -> None:
    with smtp.refusing("data", reply), pytest.raises(PermanentError) as refused:
        await deliver(channel, sample_message(ContactKind.EMAIL))
    assert (refused.value.mark_contact, refused.value.code) == (mark, "550")
    assert refused.value.attempted is False


async def test_a_full_mailbox_is_tried_again_later(smtp: SmtpPeer, channel: EmailChannel) -> None:
    with (
        smtp.refusing("rcpt", "552 5.2.2 Mailbox full"),
        pytest.raises(TransientError) as refused,
    ):
        await deliver(channel, sample_message(ContactKind.EMAIL))
    assert refused.value.retry_after == MAILBOX_FULL_RETRY_AFTER
    assert refused.value.attempted is False


async def test_a_setup_refusal_keeps_reminders_queued_and_is_logged_once(
    smtp: SmtpPeer, channel: EmailChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dispatcher.email")
    messages = [sample_message(ContactKind.EMAIL) for _ in range(3)]
    with smtp.refusing("mail", "530 5.7.0 Authentication required"):
        for message in messages:
            with pytest.raises(TransientError) as refused:
                await deliver(channel, message)
            assert isinstance(refused.value, ServerSetupError)
            assert refused.value.retry_after == SETUP_RETRY_AFTER
            assert (refused.value.attempted, refused.value.code) == (False, "530")
    await deliver(channel, sample_message(ContactKind.EMAIL))

    records = [
        r for r in caplog.records if r.name == "dispatcher.email" and r.levelno >= logging.INFO
    ]
    [error] = [r for r in records if r.levelno == logging.ERROR]
    fields = error.fields  # type: ignore[attr-defined]
    assert (fields["stage"], fields["code"], fields["status"]) == ("mail", "530", "5.7.0")
    assert any("again" in r.getMessage() for r in records if r.levelno == logging.INFO)
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "fields", ""))
        assert all(m.contact not in text for m in messages)
    assert smtp.requests == 1 and smtp.connections == 1, "refused at MAIL, the connection kept"


async def test_a_refused_login_is_a_setup_problem() -> None:
    with SmtpPeer(login=("acme", "right-password")) as peer:
        channel = EmailChannel("email", settings(peer, username="acme", password="wrong"))
        await channel.open()
        try:
            with pytest.raises(ServerSetupError) as refused:
                await deliver(channel, sample_message(ContactKind.EMAIL))
        finally:
            await channel.close()
        assert (refused.value.stage, refused.value.code) == ("auth", "535")
        assert refused.value.retry_after == SETUP_RETRY_AFTER and not refused.value.attempted
        assert peer.logins_refused >= 1 and peer.requests == 0

        channel = EmailChannel("email", settings(peer, username="acme", password="right-password"))
        await channel.open()
        try:
            await deliver(channel, sample_message(ContactKind.EMAIL))
        finally:
            await channel.close()
        assert peer.requests == 1


# -- closing while a send is in flight (a reload) --------------------------------------------


async def test_a_connection_given_back_after_close_is_ended(
    smtp: SmtpPeer, channel: EmailChannel
) -> None:
    with smtp.holding() as hold:
        sending = asyncio.create_task(deliver(channel, sample_message(ContactKind.EMAIL)))
        assert await asyncio.to_thread(smtp.holding_data.wait, 30), "DATA never reached"
        await channel.close()
        hold.set()
        await sending
        await quit_seen(smtp)

    assert smtp.requests == 1
    assert (smtp.connections, smtp.quits) == (1, 1), "the connection was QUIT, not kept"


async def test_a_send_waiting_for_a_connection_when_the_pool_closes_stays_queued(
    smtp: SmtpPeer,
) -> None:
    channel = EmailChannel("email", settings(smtp, pool_size=1))
    await channel.open()
    with smtp.holding() as hold:
        first = asyncio.create_task(deliver(channel, sample_message(ContactKind.EMAIL)))
        assert await asyncio.to_thread(smtp.holding_data.wait, 30), "DATA never reached"
        second = asyncio.create_task(deliver(channel, sample_message(ContactKind.EMAIL)))
        await asyncio.sleep(0)  # the second send now waits for the one connection
        await channel.close()
        hold.set()
        await first
        with pytest.raises(TransientError) as closed:
            await second
        await quit_seen(smtp)
    assert (closed.value.code, closed.value.attempted) == ("closed", False)
    assert (smtp.requests, smtp.connections, smtp.quits) == (1, 1, 1)


def test_a_link_is_verified_by_any_email_channel_that_signed_it() -> None:
    """The channel named in the token first; when it was renamed or removed since the email
    went out, the email channel whose secret signed it (so the link keeps working)."""
    secret, other = SECRET.encode(), b"a-different-long-secret"
    token = Unsubscribe.parse(make_token(secret, "old-name", "P-7", "a@example.com"))
    assert token is not None

    assert signing_secret({"other": other, "old-name": secret}, token) == secret
    assert signing_secret({"other": other, "new-name": secret}, token) == secret
    assert signing_secret({"other": other, "old-name": other}, token) is None
    assert signing_secret({}, token) is None


# -- "may have been sent" ----------------------------------------------------------------------


async def test_only_a_failure_after_data_began_counts_as_attempted(smtp: SmtpPeer) -> None:
    """No reply to the message itself: the server may have taken it (``attempted``, so the
    core does not send it again unasked). No connection, or a refusal: it certainly did not."""
    channel = EmailChannel("email", settings(smtp, command_timeout="1s", connect_timeout="1s"))
    await channel.open()
    try:
        with smtp.stalling(3), pytest.raises(TransientError) as no_reply:
            await deliver(channel, sample_message(ContactKind.EMAIL))
        with smtp.down(), pytest.raises(TransientError) as down:
            await deliver(channel, sample_message(ContactKind.EMAIL))
        with smtp.refusing("rcpt", 451), pytest.raises(TransientError) as busy:
            await deliver(channel, sample_message(ContactKind.EMAIL))
    finally:
        await channel.close()
    assert (no_reply.value.code, no_reply.value.attempted) == ("timeout", True)
    assert (down.value.code, down.value.attempted) == ("connect", False)
    assert (busy.value.code, busy.value.attempted) == ("451", False)
