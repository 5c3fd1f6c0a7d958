"""What a ``/v1/`` handler is given (``Call``: one authenticated request, its body and query
validated) and what it gives back (``Answer``: a status and a model).

Handlers touch the store only through ``core.call`` (the daemon's store thread) or, for reads,
``core.read`` (the daemon's reader), and read the config per request, since a reload may have
changed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from dispatcher.api.access import CoreAccess
from dispatcher.api.auth import Caller
from dispatcher.api.problems import FieldError, invalid
from dispatcher.intake import is_id


@dataclass
class Call:
    """One authenticated request, its body and query validated."""

    request: web.Request
    core: CoreAccess
    caller: Caller
    body: Any
    query: Any

    def path_id(self, name: str) -> str:
        value = self.request.match_info[name]
        if not is_id(value):  # fullmatch: ``$`` alone would let a final newline through
            raise invalid(
                [FieldError(name, f"not an id (letters, digits, . _ : -; got {value!r})")]
            )
        return value


Answer = tuple[int, BaseModel]
Handler = Callable[[Call], Awaitable[Answer]]
