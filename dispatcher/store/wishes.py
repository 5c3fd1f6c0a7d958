"""A person's wishes: each change recorded as a new row (what was set, when, by whom), the
latest in force. A change changes the person's revision, so a claim taken before it is
checked again before sending."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, insert, select

from dispatcher.model import HourWish, Wishes
from dispatcher.store import schema as t
from dispatcher.store.api import PersonIn
from dispatcher.store.opt_outs import touch_person

_W = t.wishes.c
# What a row of wishes is read as, in ``wishes_of``'s order.
WISH_COLUMNS = (_W.refused, _W.hours, _W.language, _W.set_at, _W.source)


def set_wishes(
    conn: Connection, person_id: str, wishes: Wishes, now: datetime, source: str
) -> bool:
    """Put ``wishes`` in force for the person (all of them: what is not given is no longer
    wished); False, and nothing recorded, when they are the ones in force already."""
    if conn.execute(select(t.people.c.id).where(t.people.c.id == person_id)).first() is None:
        raise LookupError(f"no person {person_id!r}")
    if current_wishes(conn, person_id) == wishes:
        return False
    conn.execute(
        insert(t.wishes).values(
            person_id=person_id,
            refused=json.dumps(list(wishes.refused)),
            hours=json.dumps([_hour_row(h) for h in wishes.hours]),
            language=wishes.language,
            source=source,
            set_at=now,
        )
    )
    touch_person(conn, person_id, now)
    return True


def current_wishes(conn: Connection, person_id: str) -> Wishes:
    """The wishes in force for the person (none when none were ever set)."""
    row = conn.execute(
        select(*WISH_COLUMNS).where(_W.person_id == person_id).order_by(_W.id.desc()).limit(1)
    ).first()
    return wishes_of(*row) if row is not None else Wishes()


def wish_history(conn: Connection, person_id: str) -> list[Wishes]:
    """Every change of the person's wishes, oldest first."""
    rows = conn.execute(select(*WISH_COLUMNS).where(_W.person_id == person_id).order_by(_W.id))
    return [wishes_of(*row) for row in rows]


def imported_wishes(conn: Connection, people: Sequence[PersonIn], now: datetime) -> None:
    """The wishes an import row gives, for a person with none on file yet. Wishes once set
    are changed only through the API, the CLI or the person's page: a later import of an
    older file must not undo what the person asked for since."""
    for person in people:
        if person.wishes is None:
            continue
        if conn.execute(select(_W.id).where(_W.person_id == person.id).limit(1)).first() is None:
            set_wishes(conn, person.id, person.wishes, now, "import")


def wishes_of(
    refused: str, hours: str, language: str | None, set_at: datetime, source: str
) -> Wishes:
    """A row's wishes (its ``WISH_COLUMNS``)."""
    return Wishes(
        refused=tuple(json.loads(refused)),
        hours=tuple(_hour_of(item) for item in json.loads(hours)),
        language=language,
        set_at=set_at,
        source=source,
    )


def _hour_row(wish: HourWish) -> dict[str, Any]:
    return {
        "kind": wish.kind,
        "at": wish.at.strftime("%H:%M"),
        "until": wish.until.strftime("%H:%M") if wish.until else None,
        "channel": wish.channel,
        "days": sorted(wish.days),
    }


def _hour_of(item: dict[str, Any]) -> HourWish:
    until = item.get("until")
    return HourWish(
        kind=item["kind"],
        at=time.fromisoformat(item["at"]),
        until=time.fromisoformat(until) if until else None,
        channel=item.get("channel"),
        days=frozenset(item["days"]),
    )
