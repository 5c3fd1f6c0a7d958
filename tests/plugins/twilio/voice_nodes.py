"""What the voice tests share: ``Services`` over a real store, as a daemon hands them to its
channels, without a daemon around them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dispatcher.services import Services
from dispatcher.store.api import Store


def script_services(store: Store, clock: Callable[[], datetime] | None = None) -> Services:
    """``Services`` on ``store``, each store call made at once (no store thread)."""

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def no_runtime() -> Any:
        raise AssertionError("the voice channel's scripts need no config")

    return Services(
        store=store,
        call=call,
        runtime=no_runtime,
        clock=clock or (lambda: datetime.now(UTC)),
        changed=lambda person_id: None,
    )
