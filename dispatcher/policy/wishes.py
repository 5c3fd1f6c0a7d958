"""The person's own wishes as the policy reads them: a refused channel suppresses, and each
wish about contact hours is one more set of windows every contact must fall in.

Wishes only narrow what the rules allow: they are judged after every rule and never open a
window the rules keep closed (a window-exempt channel, a letter, has no hours to narrow). A
wish that moves or stops a contact gives the reason ``preference``.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from dispatcher.model import HourWish, Person, Reason
from dispatcher.policy.windows import Window

PREFERENCE_RULE = "the person's wishes"
_MIDNIGHT = time(0)
_END_OF_DAY = time.max


def refusal(person: Person, channel: str) -> Reason | None:
    """Why ``channel`` may not reach ``person`` because they refused it, or None."""
    wishes = person.wishes
    if channel not in wishes.refused:
        return None
    when = f", set {wishes.set_at:%Y-%m-%d} by {wishes.source}" if wishes.set_at else ""
    return Reason("preference", f"the person refused {channel}{when}", PREFERENCE_RULE)


Wished = tuple[tuple[HourWish, tuple[Window, ...]], ...]


def wished_windows(person: Person, channel: str) -> Wished:
    """Each of the person's hour wishes that binds ``channel``, with the windows it leaves
    open (the same tuple for the same wish, so the windows' caches hold)."""
    return tuple(
        (wish, open_windows(wish))
        for wish in person.wishes.hours
        if wish.channel is None or wish.channel == channel
    )


@lru_cache(maxsize=4096)
def open_windows(wish: HourWish) -> tuple[Window, ...]:
    """The local windows a wish leaves open: all day on the days it does not name."""
    others = frozenset(range(7)) - wish.days
    out = [Window(others, _MIDNIGHT, _END_OF_DAY, PREFERENCE_RULE)] if others else []
    for start, end in _open_spans(wish):
        if start != end:
            out.append(Window(wish.days, start, end, PREFERENCE_RULE))
    return tuple(out)


def _open_spans(wish: HourWish) -> list[tuple[time, time]]:
    """The day's open stretches on the days the wish names. A ``not_between`` that runs
    past midnight (22:00–08:00) reads as not after its start and not before its end on each
    of those days, so every day named is judged alone."""
    if wish.kind == "not_before":
        return [(wish.at, _END_OF_DAY)]
    if wish.kind == "not_after":
        return [(_MIDNIGHT, wish.at)]
    assert wish.until is not None
    if wish.at < wish.until:
        return [(_MIDNIGHT, wish.at), (wish.until, _END_OF_DAY)]
    return [(wish.until, wish.at)]


def wish_reason(wish: HourWish, closed_text: str) -> Reason:
    """The reason a wish moved a contact: what the person asked, and when the next contact
    may be (``closed_text`` from ``windows.describe_closed``)."""
    local, _, next_open = closed_text.partition(" is outside ")
    rest = next_open.partition("; ")[2]
    return Reason(
        "preference",
        f"{local}: the person asked for {wish.describe()}" + (f"; {rest}" if rest else ""),
        PREFERENCE_RULE,
    )
