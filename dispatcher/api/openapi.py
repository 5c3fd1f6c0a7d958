"""The OpenAPI 3.1 document of ``/v1/``, built from the operations and their pydantic
models (served at ``/v1/openapi.json``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dispatcher import __version__
from dispatcher.api.models import ID_PATTERN, Problem
from dispatcher.api.operations import OPERATIONS, Operation

PREFIX = "/v1"
_REF = "#/components/schemas/{model}"
_PROBLEMS = {
    400: "The body is not JSON",
    401: "No token, or an unknown one",
    403: "The token lacks the scope",
    404: "No such case",
    409: "The Idempotency-Key was used for another request, or its request still runs",
    413: "The body is too large",
    422: "Invalid fields: each with its reason",
    503: "No usable API token is configured",
}


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            models.append((op.body, "validation"))
        models.extend((m, "serialization") for m in op.responses.values())
    refs, defs = models_json_schema(models, ref_template=_REF)
    return refs, defs.get("$defs", {})


def _query_parameters(model: type[BaseModel]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The model's fields as query parameters, and the schemas they refer to."""
    schema = model.model_json_schema(ref_template=_REF)
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title",)}
        out.append({"name": name, "in": "query", "required": False, "schema": prop})
    return out, schema.get("$defs", {})


def _operation(op: Operation, refs: dict[Any, Any], defs: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        query, extra = _query_parameters(op.query)
        parameters.extend(query)
        defs.update(extra)
    if op.method == "POST":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a replay with the same key and body returns the first answer",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    problem = {"$ref": _REF.format(model="Problem")}
    codes = [401, 403, 422, 503]
    if op.body is not None:
        codes += [400, 413]
    if op.finds:
        codes.append(404)
    if op.method == "POST":
        codes.append(409)
    responses: dict[str, Any] = {
        str(status): {
            "description": "OK" if status == 200 else "Created",
            "content": {"application/json": {"schema": refs[(model, "serialization")]}},
        }
        for status, model in op.responses.items()
    }
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _PROBLEMS[code],
            "content": {"application/problem+json": {"schema": problem}},
        }
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.handler.__name__,
        "description": f"Scope: `{op.scope}`.",
        "security": [{"bearer": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return out


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    refs, defs = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op, refs, defs)
    paths[PREFIX + "/openapi.json"] = {
        "get": {
            "summary": "This document (no token needed)",
            "operationId": "openapi",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dispatcher API",
            "version": __version__,
            "description": "Cases, events and explanations for lenders' systems. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
