"""A UK Breathing Space moratorium (SI 2020/1311) given in an import row, read as the
``breathing-space`` event reads its options.

The optional columns: ``breathing_space`` (``standard``, the default, or ``crisis``: a
mental-health crisis moratorium), ``breathing_space_start`` (default: now, or the start of
the moratorium of that kind already running), ``breathing_space_until`` (a standard one's
end, default 60 days after its start) and ``breathing_space_crisis_ends`` (the day a crisis
treatment ends: the moratorium ends 30 days later; none yet, no end). Dates are ISO dates
(``YYYY-MM-DD``), midnight in the person's local zone, as the CLI reads them.

``read_moratorium`` checks a row's cells alone (pure, no clock); ``moratorium_at`` turns them
into the moratorium to record once ``now``, the zone and what is on file are known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dispatcher.model import BreathingSpace
from dispatcher.policy.breathing_space import AFTER_CRISIS, moratorium_end
from dispatcher.store.events import pause_problem

KIND = "breathing_space"
START = "breathing_space_start"
UNTIL = "breathing_space_until"
CRISIS_ENDS = "breathing_space_crisis_ends"
COLUMNS = (KIND, START, UNTIL, CRISIS_ENDS)
KINDS = ("standard", "crisis")
# The dates a moratorium's cells may give: far enough either way for any real notice, and
# short of the last instants there are (a crisis end is followed by 30 days more).
DATES = (date(1970, 1, 1), date(2199, 12, 31))


@dataclass(frozen=True)
class MoratoriumIn:
    """A moratorium as a row gives it (None: the default)."""

    crisis: bool
    start: date | None = None
    until: date | None = None  # a standard moratorium's end
    crisis_ends: date | None = None  # the day a crisis moratorium's treatment ends


class MoratoriumProblem(ValueError):
    """What makes a row's moratorium one not to record, and the column at fault."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column
        self.message = message


# bad(field, message, value): records what is wrong with one cell.
Bad = Callable[[str, str, str], None]


def read_moratorium(cells: Mapping[str, str], bad: Bad) -> MoratoriumIn | None:
    """The moratorium the row's ``COLUMNS`` cells give (stripped text, "" when empty), or None
    when they give none; each bad cell is told to ``bad``."""
    if not any(cells.get(column) for column in COLUMNS):
        return None
    kind = cells.get(KIND) or "standard"
    if kind not in KINDS:
        bad(KIND, "not a kind of breathing space (standard or crisis)", kind)
    crisis = kind == "crisis"
    start, until, ends = (_date(cells.get(column, ""), column, bad) for column in COLUMNS[1:])
    if until is not None and crisis:
        bad(
            UNTIL,
            f"a crisis moratorium ends 30 days after the treatment: give {CRISIS_ENDS}",
            cells[UNTIL],
        )
    if ends is not None and not crisis:
        bad(CRISIS_ENDS, f"for a crisis moratorium only ({KIND} = crisis)", cells[CRISIS_ENDS])
    if start is not None and until is not None and until <= start:
        bad(UNTIL, f"not after {START} ({start})", cells[UNTIL])
    if start is not None and ends is not None and ends + AFTER_CRISIS <= start:
        bad(CRISIS_ENDS, f"the moratorium would end before {START} ({start})", cells[CRISIS_ENDS])
    return MoratoriumIn(crisis, start, until, ends)


def _date(text: str, column: str, bad: Bad) -> date | None:
    if not text:
        return None
    try:
        value = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        value = None
    if value is None:
        bad(column, "not a date (YYYY-MM-DD)", text)
        return None
    if not DATES[0] <= value <= DATES[1]:
        bad(column, f"not between {DATES[0]} and {DATES[1]}", text)
        return None
    return value


def moratorium_at(
    given: MoratoriumIn, zone: str, now: datetime, on_file: BreathingSpace | None
) -> BreathingSpace | None:
    """The moratorium to record for ``given`` at ``now`` (dates read in ``zone``): as the
    event records it, 60 days from its start unless it says otherwise, a crisis one without
    end until its treatment's end is given. A start not given is that of the moratorium of
    the same kind ``on_file`` while it runs (so a file imported again records nothing new),
    else now. None: it has already ended, so there is nothing to hold. MoratoriumProblem: a
    start after now, an end more than 10 years ahead."""
    start = _start(given, zone, now, on_file)
    if start > now:
        raise MoratoriumProblem(
            START, f"{given.start} is after now ({now:%Y-%m-%d}): record it once it starts"
        )
    try:
        end = moratorium_end(
            start,
            until=_midnight(given.until, zone),
            crisis=given.crisis,
            crisis_ends=_midnight(given.crisis_ends, zone),
        )
    except ValueError:  # an end given not after a start of now: it has ended already
        return None
    if end is not None and end <= now:
        return None
    problem = end and pause_problem(end, now)
    if problem:
        column = CRISIS_ENDS if given.crisis else UNTIL
        raise MoratoriumProblem(column, f"the moratorium's end {problem}")
    return BreathingSpace(start, end, given.crisis)


def _start(
    given: MoratoriumIn, zone: str, now: datetime, on_file: BreathingSpace | None
) -> datetime:
    """The row's start; else that of the same kind's moratorium running on file; else now."""
    if given.start is not None:
        return datetime.combine(given.start, time(0), ZoneInfo(zone)).astimezone(UTC)
    if on_file is not None and on_file.runs_at(now) and on_file.crisis == given.crisis:
        return on_file.start
    return now


def _midnight(day: date | None, zone: str) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)
