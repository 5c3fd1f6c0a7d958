"""Generated and mutated requests (hypothesis, derandomized) against the daemon's HTTP server
on loopback, from an unauthenticated and an authenticated client: API bodies and headers,
webhook bodies. No answer is a 5xx; every /v1/ error is problem+json."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import TOKENS, add_tokens
from tests.api.fuzz_requests import Request, daemon_on_a_thread, requests, send
from tests.conftest import EXAMPLE_CONFIG, OPEN_ALL_DAY, Deployment, seed
from tests.plugins.twilio.test_webhooks import use_twilio_plugins

# More for a one-off run: DISPATCHER_FUZZ_EXAMPLES=2000 pytest tests/api/test_fuzz.py -s
EXAMPLES = int(os.environ.get("DISPATCHER_FUZZ_EXAMPLES", "300"))
STATUSES: Counter[int] = Counter()
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The example deployment with the Twilio channels on (so the webhooks check signatures)
    and the test tokens, a few cases in its store."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXAMPLE_CONFIG, root / "config", ignore=shutil.ignore_patterns("data"))
    dep = Deployment(root)
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "{dep.url}"')
    dep.set("dispatcher.toml", r'^directory = ".*"$', f'directory = "{dep.outbox}"')
    dep.write("policy.toml", OPEN_ALL_DAY)
    use_twilio_plugins(dep, "http://127.0.0.1:9")  # never called: nothing is sent here
    env = {**add_tokens(dep), "TWILIO_AUTH_TOKEN": "fuzz-auth-token-0123456789"}
    env["DISPATCHER_PLUGINS"] = "outbox,sms,voice,letter"
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with daemon_on_a_thread(dep.config) as served:
            seed(dep, 3)
            yield served
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if EXAMPLES > 300:
            print("statuses:", dict(sorted(STATUSES.items())))


def _answered_well(port: int, request: Request) -> None:
    answer = send(port, request)
    STATUSES[answer.status] += 1
    assert answer.status < 500, (request, answer)
    if request.path.startswith("/v1/") and answer.status >= 400:
        assert answer.content_type.startswith("application/problem+json"), (request, answer)


@FUZZ
@given(request=requests(token=None))
def test_unauthenticated_requests_get_no_5xx(port: int, request: Request) -> None:
    _answered_well(port, request)


@FUZZ
@given(request=requests(token=TOKENS["officer"][1].encode()))
def test_authenticated_requests_get_no_5xx(port: int, request: Request) -> None:
    _answered_well(port, request)
