"""The person's contact preferences on their own page: channels they refuse, a "not before"
and a "not after" time for every channel, and a language — their wishes, replaced as a whole
as ``PUT /v1/people/{id}/wishes`` replaces them. What the form cannot show (an hour wish the
team set for one channel or some days, a refused channel no longer configured) is kept, so
saving the form never drops it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dispatcher.api.access import CoreAccess
from dispatcher.intake.wishes import clock, hour_wish
from dispatcher.model import Case, HourWish, Wishes
from dispatcher.ui.languages import LANGUAGES
from dispatcher.ui.self_service_actions import SOURCE, FormProblem, Refused

EVERY_DAY = frozenset(range(7))
TIME_FIELDS = ("not_before", "not_after")


def _managed(wish: HourWish) -> bool:
    """Whether the form shows ``wish``: a not-before or not-after time for every channel on
    every day."""
    return wish.kind in TIME_FIELDS and wish.channel is None and wish.days == EVERY_DAY


def _shown_time(wishes: Wishes, kind: str) -> str:
    # Of several such wishes the strictest binds alone, so the form shows that one.
    times = [w.at for w in wishes.hours if _managed(w) and w.kind == kind]
    if not times:
        return ""
    return f"{max(times) if kind == 'not_before' else min(times):%H:%M}"


def _languages(wishes: Wishes) -> list[str]:
    """The languages offered: the page's, and one set elsewhere so it is not lost."""
    extra = [wishes.language] if wishes.language and wishes.language not in LANGUAGES else []
    return [*LANGUAGES, *extra]


def preferences_shown(wishes: Wishes, channels: Sequence[str]) -> dict[str, Any]:
    """The form filled with the wishes in force."""
    return {
        "refused": {c for c in channels if c in wishes.refused},
        "not_before": _shown_time(wishes, "not_before"),
        "not_after": _shown_time(wishes, "not_after"),
        "language": wishes.language or "",
        "languages": _languages(wishes),
    }


def preferences_given_back(
    form: Mapping[str, str], wishes: Wishes, channels: Sequence[str]
) -> dict[str, Any]:
    """The form as the person sent it, for them to correct."""
    return {
        **preferences_shown(wishes, channels),
        "refused": {c for c in channels if form.get(f"refuse_{c}")},
        "not_before": form.get("not_before", ""),
        "not_after": form.get("not_after", ""),
        "language": form.get("language", ""),
    }


def _time(form: Mapping[str, str], kind: str, problems: list[tuple[str, str]]) -> HourWish | None:
    text = form.get(kind, "").strip()
    if not text:
        return None
    try:
        return hour_wish(kind, clock(text))
    except ValueError:  # not HH:MM, or 00:00 (restricts nothing, or allows nothing)
        problems.append((kind, "bad_time"))
        return None


def read_preferences(form: Mapping[str, str], wishes: Wishes, channels: Sequence[str]) -> Wishes:
    """The wishes the form asks for in place of ``wishes``; ``FormProblem`` when unreadable."""
    problems: list[tuple[str, str]] = []
    before, after = _time(form, "not_before", problems), _time(form, "not_after", problems)
    if before is not None and after is not None and before.at >= after.at:
        problems.append(("not_after", "bad_order"))
    language = form.get("language", "")
    if language and language not in _languages(wishes):
        problems.append(("language", "bad_choice"))
    if problems:
        raise FormProblem(problems)
    refused = [c for c in channels if form.get(f"refuse_{c}")]
    refused += [c for c in wishes.refused if c not in channels]
    hours = [w for w in wishes.hours if not _managed(w)]
    hours += [w for w in (before, after) if w is not None]
    asked = Wishes(tuple(refused), tuple(hours), language or None)
    return wishes if _same(asked, wishes) else asked


def _same(one: Wishes, other: Wishes) -> bool:
    """The same wishes, in whatever order: the form saved unchanged records no change."""
    return (set(one.refused), set(one.hours), one.language) == (
        set(other.refused),
        set(other.hours),
        other.language,
    )


async def set_preferences(core: CoreAccess, case: Case, form: Mapping[str, str]) -> str:
    """Put the wishes the form shows in force for the case's person."""
    person = await core.read(core.store.get_person, case.person_id)
    if person is None:
        raise Refused()
    channels = list(core.runtime.config.dispatcher.channels)
    wishes = read_preferences(form, person.wishes, channels)
    try:
        await core.call(
            core.store.set_wishes, case.person_id, wishes, now=core.clock(), source=SOURCE
        )
    except LookupError:
        raise Refused() from None
    core.changed(case_id=case.id, person_id=case.person_id)
    return "done_preferences"
