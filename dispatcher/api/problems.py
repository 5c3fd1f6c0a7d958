"""Errors as ``application/problem+json`` (RFC 9457): a status, a title, a detail a person can
act on, and for invalid input every field at fault with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from dispatcher.intake import RowError
from dispatcher.privacy import scrub

PROBLEM_TYPE = "application/problem+json"

# Fields whose submitted values are personal data: never echoed back in an error.
PERSONAL_FIELDS = frozenset({"name", "phones", "emails", "addresses", "phone", "email", "address"})

# intake's field names → the API's.
_API_FIELDS = {"phone": "phones", "email": "emails", "address": "addresses"}


@dataclass(frozen=True)
class FieldError:
    """One field at fault: where (a dotted path, e.g. ``rows[3].phone``) and why."""

    field: str
    message: str


@dataclass
class ApiProblem(Exception):
    """Raised by handlers; answered as problem+json by the API's middleware."""

    status: int
    title: str
    detail: str = ""
    errors: Sequence[FieldError] = ()
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors:
            out["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return out

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(), ensure_ascii=False),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


def invalid(errors: Iterable[FieldError], detail: str = "") -> ApiProblem:
    """422: the request was understood but some fields are wrong."""
    found = list(errors)
    return ApiProblem(
        422,
        "Invalid request",
        detail or "; ".join(f"{e.field}: {e.message}" for e in found),
        found,
    )


def _path(loc: Sequence[Any], prefix: str) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(body)"


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic's errors as FieldErrors: the field, the reason and, unless the field holds
    personal data, the value given."""
    out: list[FieldError] = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and "[" in p))
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required"
        elif not (set(map(str, loc)) & PERSONAL_FIELDS) and not isinstance(
            item.get("input"), dict | list
        ):
            shown = repr(item.get("input"))
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        out.append(FieldError(_path(loc, prefix), scrub(message)))
    return out


def intake_field_errors(errors: list[RowError], prefix: str = "") -> list[FieldError]:
    """intake's errors as FieldErrors, under the API's field names."""
    return [FieldError(prefix + _API_FIELDS.get(e.field, e.field), e.message) for e in errors]
