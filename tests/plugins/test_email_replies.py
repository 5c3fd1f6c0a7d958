"""How the email channel classifies an SMTP server's refusals, reply by reply: the enhanced
status code (RFC 3463) decides when the reply has one, the stage and basic code otherwise."""

from __future__ import annotations

import pytest
from dispatcher_plugins.email.replies import (
    MAILBOX_FULL_RETRY_AFTER,
    SETUP_RETRY_AFTER,
    ServerSetupError,
    enhanced_status,
    refusal,
)

from dispatcher.channel import PermanentError, TransientError

INVALID = "invalid"  # PermanentError marking the address undeliverable
FAILED = "failed"  # PermanentError, the address left alone
RETRY = "retry"  # TransientError, the core's usual backoff
FULL = "full"  # TransientError after MAILBOX_FULL_RETRY_AFTER
SETUP = "setup"  # ServerSetupError: transient after SETUP_RETRY_AFTER

REPLIES = [
    # the recipient's address
    ("rcpt", 550, "5.1.1 No such user here", INVALID),
    ("rcpt", 553, "5.1.3 Bad recipient address syntax", INVALID),
    ("rcpt", 550, "5.1.10 Recipient domain has a null MX", INVALID),
    ("data", 550, "5.1.1 Mailbox unknown (refused after DATA)", INVALID),
    ("rcpt", 550, "5.2.1 Mailbox disabled, not accepting messages", INVALID),
    ("data", 554, "5.2.1 This account has been disabled", INVALID),
    # a full mailbox may be emptied
    ("rcpt", 552, "5.2.2 Mailbox full", FULL),
    ("data", 550, "5.2.2 Quota exceeded", FULL),
    ("rcpt", 552, "Requested mail action aborted: exceeded storage allocation", FULL),
    # policy, spam, content: this message fails, the address stays usable
    ("data", 550, "5.7.1 Message rejected as spam", FAILED),
    ("data", 554, "5.7.1 Message rejected: DMARC policy", FAILED),
    ("rcpt", 550, "5.7.1 Recipient refuses mail from this sender", FAILED),
    ("data", 552, "5.3.4 Message too big for system", FAILED),
    ("data", 554, "5.6.0 Content refused", FAILED),
    ("rcpt", 550, "5.4.4 Unable to route", FAILED),
    ("rcpt", 554, "5.2.0 Other mailbox status", FAILED),
    # no enhanced code (or 5.0.0, which says nothing): the basic code at RCPT
    ("rcpt", 550, "Requested action not taken: mailbox unavailable", INVALID),
    ("rcpt", 551, "User not local", INVALID),
    ("rcpt", 553, "5.0.0 Mailbox name not allowed", INVALID),
    ("rcpt", 554, "Transaction failed", FAILED),
    # ... and at DATA a bare code cannot tell the recipient from the content
    ("data", 550, "Message refused", FAILED),
    ("data", 554, "5.0.0 Transaction failed", FAILED),
    # an enhanced code that contradicts the basic code is ignored
    ("rcpt", 550, "4.1.1 mailbox unknown", INVALID),
    ("data", 550, "2.1.1 whatever", FAILED),
    # the sender's or the server's configuration, whatever the recipient
    ("mail", 530, "5.7.0 Authentication required", SETUP),
    ("mail", 553, "5.1.8 Sender address domain does not exist", SETUP),
    ("mail", 554, "5.7.1 Client host blocked", SETUP),
    ("mail", 550, "Sender refused", SETUP),
    ("greeting", 554, "5.7.1 No SMTP service here", SETUP),
    ("ehlo", 550, "Not allowed", SETUP),
    ("starttls", 554, "5.7.0 TLS not available", SETUP),
    ("auth", 535, "5.7.8 Authentication credentials invalid", SETUP),
    ("auth", 534, "5.7.9 Authentication mechanism is too weak", SETUP),
    ("rcpt", 530, "5.7.0 Authentication required", SETUP),
    ("data", 550, "5.7.8 Authentication credentials invalid", SETUP),
    ("rcpt", 553, "5.1.7 Bad sender's mailbox address syntax", SETUP),
    ("data", 550, "5.7.11 Encryption required for requested authentication mechanism", SETUP),
    # 4xx anywhere: later
    ("rcpt", 451, "4.3.0 Try again later", RETRY),
    ("rcpt", 450, "4.2.2 Mailbox full", RETRY),
    ("data", 452, "4.3.1 Insufficient system storage", RETRY),
    ("mail", 421, "4.7.0 Too many connections", RETRY),
    ("greeting", 421, "Service not available", RETRY),
    ("auth", 454, "4.7.0 Temporary authentication failure", RETRY),
]


def verdict(error: Exception) -> str:
    if isinstance(error, ServerSetupError):
        assert error.retry_after == SETUP_RETRY_AFTER
        return SETUP
    if isinstance(error, TransientError):
        assert error.retry_after in (None, MAILBOX_FULL_RETRY_AFTER)
        return FULL if error.retry_after == MAILBOX_FULL_RETRY_AFTER else RETRY
    assert isinstance(error, PermanentError)
    assert error.mark_contact in (None, "invalid")
    return INVALID if error.mark_contact == "invalid" else FAILED


@pytest.mark.parametrize(("stage", "code", "reply", "expected"), REPLIES)
def test_a_refusal_is_classified(stage: str, code: int, reply: str, expected: str) -> None:
    error = refusal(stage, code, reply)
    assert verdict(error) == expected
    assert error.code == str(code)
    assert error.attempted is False, "a refusal is a reply: the server did not take it"


def test_a_refusal_names_the_stage_and_quotes_no_address() -> None:
    error = refusal("rcpt", 550, "5.1.1 <zhang.wei@example.com>: Recipient address rejected")
    assert "RCPT" in str(error) and "550" in str(error)
    assert "zhang.wei@example.com" not in str(error)


def test_a_setup_refusal_keeps_its_stage_and_status() -> None:
    error = refusal("mail", 530, "5.7.0 Authentication required")
    assert isinstance(error, ServerSetupError)
    assert (error.stage, error.code, error.status) == ("mail", "530", "5.7.0")


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("5.1.1 no such user", (5, 1, 1)),
        ("  5.7.26 DMARC", (5, 7, 26)),
        ("4.2.2 full", (4, 2, 2)),
        ("550 is not a status", None),
        ("5.1 short", None),
        ("5.1.1x glued", None),
        ("", None),
    ],
)
def test_enhanced_status(reply: str, status: tuple[int, int, int] | None) -> None:
    assert enhanced_status(reply) == status
