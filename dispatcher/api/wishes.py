"""``/v1/people/{person_id}/wishes``: what the person asked for — channels they refused,
hours not to be contacted in, the language to write in — read, or replaced as a whole. The
policy reads them as further exclusions, never looser than its rules; a wish naming an
unknown channel, or one that allows nothing or restricts nothing, is a 422 naming the field
and the value."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import LOCALE_PATTERN, _Request, _Response
from dispatcher.api.problems import ApiProblem, FieldError, invalid
from dispatcher.intake.wishes import clock, hour_wish
from dispatcher.model import WEEKDAYS, HourWish, Wishes

CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WishKind = Literal["not_before", "not_after", "not_between"]


class HourWishBody(_Request):
    """No contact on ``channel`` (every channel when absent) on ``days`` (every day when
    absent) ``not_before`` / ``not_after`` ``at``, or ``not_between`` ``at`` and ``until``
    (local time, HH:MM; a span past midnight is read as not after ``at`` and not before
    ``until`` on each day)."""

    kind: WishKind
    at: str = Field(pattern=CLOCK_PATTERN, description="HH:MM, the person's local time")
    until: str | None = Field(None, pattern=CLOCK_PATTERN, description="for not_between")
    channel: str | None = Field(None, min_length=1, max_length=64)
    days: list[Weekday] | None = Field(None, min_length=1, max_length=7)

    @model_validator(mode="after")
    def _whole(self) -> HourWishBody:
        self.wish()  # ValueError: pydantic reports it as this item's error
        return self

    def wish(self) -> HourWish:
        days = frozenset(WEEKDAYS.index(d) for d in self.days) if self.days else None
        until = clock(self.until) if self.until else None
        return hour_wish(self.kind, clock(self.at), until, self.channel, days)


class WishesBody(_Request):
    """The person's wishes, all of them: what is left out is no longer wished."""

    refused: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        [], max_length=20, description="channels the person refused"
    )
    hours: list[HourWishBody] = Field([], max_length=20)
    language: str | None = Field(None, pattern=LOCALE_PATTERN, description="e.g. zh-CN")


class HourWishView(_Response):
    kind: str
    at: str
    until: str | None
    channel: str | None
    days: list[str]
    text: str  # as explain says it: "no voice between 09:00 and 17:00 on Mon–Fri"


class WishesView(_Response):
    person_id: str
    refused: list[str]
    hours: list[HourWishView]
    language: str | None
    set_at: dt.datetime | None
    source: str | None


class WishesResult(_Response):
    wishes: WishesView
    changed: bool


def wishes_view(person_id: str, wishes: Wishes) -> WishesView:
    return WishesView(
        person_id=person_id,
        refused=list(wishes.refused),
        hours=[
            HourWishView(
                kind=h.kind,
                at=h.at.strftime("%H:%M"),
                until=h.until.strftime("%H:%M") if h.until else None,
                channel=h.channel,
                days=[WEEKDAYS[d] for d in sorted(h.days)],
                text=h.describe(),
            )
            for h in wishes.hours
        ],
        language=wishes.language,
        set_at=wishes.set_at,
        source=wishes.source or None,
    )


async def get_wishes(call: Call) -> Answer:
    person_id = call.path_id("person_id")
    person = await call.core.read(call.core.store.get_person, person_id)
    if person is None:
        raise ApiProblem(404, "Not found", f"no person {person_id!r}")
    return 200, wishes_view(person_id, person.wishes)


async def put_wishes(call: Call) -> Answer:
    person_id = call.path_id("person_id")
    body: WishesBody = call.body
    core = call.core
    channels = list(core.runtime.config.dispatcher.channels)
    errors = [
        FieldError(f"refused[{i}]", _unknown(name, channels))
        for i, name in enumerate(body.refused)
        if name not in channels
    ] + [
        FieldError(f"hours[{i}].channel", _unknown(h.channel, channels))
        for i, h in enumerate(body.hours)
        if h.channel is not None and h.channel not in channels
    ]
    if errors:
        raise invalid(errors)
    wishes = Wishes(
        refused=tuple(dict.fromkeys(body.refused)),
        hours=tuple(dict.fromkeys(h.wish() for h in body.hours)),
        language=body.language,
    )
    try:
        changed = await core.call(
            core.store.set_wishes,
            person_id,
            wishes,
            now=core.clock(),
            source=f"api:{call.caller.name}",
        )
    except LookupError:
        raise ApiProblem(404, "Not found", f"no person {person_id!r}") from None
    core.changed(person_id=person_id)
    person = await core.call(core.store.get_person, person_id)
    assert person is not None
    return 200, WishesResult(wishes=wishes_view(person_id, person.wishes), changed=changed)


def _unknown(name: str, channels: list[str]) -> str:
    return f"unknown channel {name!r} (known: {', '.join(channels) or 'none configured'})"
