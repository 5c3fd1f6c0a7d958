"""How a check of the contract suite fails: every problem it found under one heading, or the
fixture that is missing with what to provide; each says what to change in the channel."""

from __future__ import annotations

from typing import NoReturn

import pytest


def fail_check(problems: list[str], heading: str) -> NoReturn:
    pytest.fail(heading + "\n" + "\n".join(f"- {p}" for p in problems), pytrace=False)


def missing_fixture(fixture: str, hint: str) -> NoReturn:
    pytest.fail(f"ChannelContract needs a `{fixture}` fixture in your test class: {hint}", False)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}({str(exc)!r})"
