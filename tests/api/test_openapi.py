"""The OpenAPI document stays true: every route under /v1 is in it and every operation in it
is routed; and schemathesis, driven by the document the daemon serves, finds no server error
and no response that disagrees with the document (a bounded, deterministic run)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatcher.api.operations import OPERATIONS
from dispatcher.daemon.web import build_app
from tests.api.conftest import TOKENS, Api, bearer, running_daemon
from tests.conftest import (
    http_get,
    seed,
)


def routed(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the daemon's app answers under /v1 (HEAD is aiohttp's
    automatic companion of GET)."""
    out: set[tuple[str, str]] = set()
    for resource in app.router.resources():
        for sub in getattr(resource, "_app", None) and resource._app.router.resources() or []:
            for route in sub:
                if route.method != "HEAD":
                    out.add((route.method, sub.canonical))
    return {(m, p) for m, p in out if p.startswith("/v1/")}


async def test_every_route_is_documented_and_every_operation_routed(api: Api) -> None:
    app = build_app(api.daemon.metrics, api.daemon.ready, api.daemon.core_access())
    response = await api.client.get("/v1/openapi.json")
    assert response.status == 200, "the document needs no token"
    document = await response.json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert routed(app) == documented
    assert len(documented) == 14


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real daemon on a free loopback port, with the test tokens and a few cases."""
    with running_daemon(tmp_path_factory.mktemp("fuzz"), lambda dep: seed(dep, 3)) as url:
        yield url


OPERATION_IDS = [op.handler.__name__ for op in OPERATIONS]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_the_api_keeps_its_document(served: str, operation_id: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/v1/openapi.json")
    operation = schema.find_operation_by_id(operation_id)
    token = bearer("officer")  # write and read:pii: every operation is open to it
    # Invalid requests must be refused with a 4xx; valid ones may still be (an unknown case).
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "25")),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=served, headers=token, checks=checks)

    exchange()


def test_the_officer_token_has_every_scope() -> None:
    assert re.findall(r"\w+(?::\w+)?", TOKENS["officer"][2]) == ["read:pii", "write"]


def test_the_fuzzing_reached_every_operation(served: str) -> None:
    """Runs after the fuzzing (file order): the daemon counted calls of every operation, and
    not one 5xx."""
    port = int(served.rsplit(":", 1)[1])
    _, text = http_get(port, "/metrics")
    answered = re.findall(
        r'dispatcher_api_requests_total\{method="(\w+)",route="([^"]+)",status="(\d+)"\}', text
    )
    assert {(m, r) for m, r, _ in answered} >= {(op.method, "/v1" + op.path) for op in OPERATIONS}
    assert not [a for a in answered if a[2].startswith("5")]
