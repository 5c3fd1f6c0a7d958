"""Attempts whose outcome is unknown, as an operator sees and resolves them: each listed with
its address masked, and a resolution applied to a selection (given ids, every unknown one, or
those of one channel) a page per store call, so 10,000 resolve in seconds and the dispatch
loop's own calls interleave."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dispatcher.model import ContactKind
from dispatcher.privacy import mask
from dispatcher.store.unknown_api import UnknownRow

PAGE = 500  # attempts per store call


def unknown_view(row: UnknownRow) -> dict[str, Any]:
    """One unknown attempt as listed (CLI ``--json``, the API): its address masked."""
    return {
        "attempt_id": row.attempt_id,
        "reminder_id": row.reminder_id,
        "case_id": row.case_id,
        "channel": row.channel,
        "to": mask(ContactKind(row.contact_kind), row.contact),
        "at": row.at.isoformat(),
        "provider_id": row.provider_id,
        "detail": row.detail,
    }


@dataclass(frozen=True)
class Selection:
    """Which unknown attempts to resolve: ``ids``, or (None) every one, on ``channel`` if
    given."""

    ids: tuple[str, ...] | None = None
    channel: str | None = None

    def pages(self) -> Iterator[dict[str, Any]]:
        """The arguments of ``Store.resolve_unknown`` for each page. Given ids come in
        chunks; otherwise the same arguments again and again, each call resolving the next
        oldest: the caller stops when one resolves nothing (``done``)."""
        if self.ids is not None:
            for start in range(0, len(self.ids), PAGE):
                yield {"attempt_ids": list(self.ids[start : start + PAGE]), "limit": PAGE}
            return
        while True:
            yield {"attempt_ids": None, "channel": self.channel, "limit": PAGE}

    def done(self, resolved: list[str]) -> bool:
        """Whether a selection of every unknown attempt is exhausted after this page."""
        return self.ids is None and not resolved


async def resolve_selection(
    resolve: Callable[..., Awaitable[list[str]]], selection: Selection, **fixed: Any
) -> list[str]:
    """Apply ``resolve`` (``Store.resolve_unknown`` on the daemon's store thread, the
    resolution, reason, source and instant bound as ``fixed``) to ``selection`` a page at a
    time; returns every id resolved."""
    resolved: list[str] = []
    for page in selection.pages():
        done = await resolve(**page, **fixed)
        resolved += done
        if selection.done(done):
            break
    return resolved
