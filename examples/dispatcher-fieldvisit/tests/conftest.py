"""A stand-in CRM for every test, and the settings that point the channel at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dispatcher_fieldvisit.fake_crm import FakeCrm


@pytest.fixture
def secret() -> str:
    return "visit-signing-secret-for-tests"


@pytest.fixture
def crm(secret: str) -> Iterator[FakeCrm]:
    with FakeCrm(secret) as crm:
        yield crm


@pytest.fixture
def settings(crm: FakeCrm, secret: str) -> dict[str, Any]:
    """Settings as the core hands them over (the secret reference already resolved)."""
    return {"endpoint": crm.url, "secret": secret, "timeout": "1s", "queue": "north"}
