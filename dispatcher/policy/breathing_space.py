"""The UK Breathing Space moratorium (The Debt Respite Scheme (Breathing Space Moratorium and
Mental Health Crisis Moratorium) (England and Wales) Regulations 2020, SI 2020/1311), as the
project reads published summaries of it, not legal advice: while a moratorium runs, a
creditor must not contact the debtor to ask for payment. Here it holds every reminder of the
case, whatever its state; the ladder then resumes as it stood.

- A standard moratorium ends 60 days after it starts (earlier if it is cancelled: the
  ``breathing-space-end`` event).
- A mental-health crisis moratorium lasts while the crisis treatment does, and 30 days more;
  until the treatment's end is recorded it has no end.

Pure: the instants are passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatcher.model import BreathingSpace
from dispatcher.policy.limits import utc_minute

# SI 2020/1311: a standard moratorium's length, and how long a mental-health crisis
# moratorium outlasts the crisis treatment.
STANDARD_LENGTH = timedelta(days=60)
AFTER_CRISIS = timedelta(days=30)


def moratorium_end(
    start: datetime,
    *,
    until: datetime | None,
    crisis: bool,
    crisis_ends: datetime | None,
) -> datetime | None:
    """The end of a moratorium starting at ``start``: ``until`` when given (standard), else 60
    days on; for a crisis, 30 days after ``crisis_ends`` (None: no end yet). ValueError for
    a combination that means nothing or an end not after the start."""
    if crisis:
        if until is not None:
            raise ValueError(
                "a mental-health crisis moratorium ends 30 days after the crisis treatment: "
                "give --crisis-ends, not --until"
            )
        end = None if crisis_ends is None else crisis_ends + AFTER_CRISIS
    else:
        if crisis_ends is not None:
            raise ValueError("--crisis-ends is for a mental-health crisis moratorium only")
        end = start + STANDARD_LENGTH if until is None else until
    if end is not None and end <= start:
        raise ValueError(f"the moratorium would end before it starts ({end:%Y-%m-%d})")
    return end


def held_until(space: BreathingSpace, original_due: datetime) -> datetime | None:
    """The instant before which ``space`` holds a reminder first due at ``original_due``
    (one not after now: it holds it no more); None for a moratorium whose end is not yet
    known, which holds every reminder.

    A step the moratorium held goes as long after its end as it was due after its start, so
    the ladder resumes where it stood rather than with every held step at once; a step due
    before the start (still waiting at it) goes at the end."""
    if space.until is None:
        return None
    if original_due >= space.until:
        return space.until
    return space.until + max(original_due - space.start, timedelta(0))


def describe(space: BreathingSpace) -> str:
    """The moratorium in words, as reasons, ``explain`` and the event's answer name it."""
    kind = "a mental-health crisis breathing space" if space.crisis else "a breathing space"
    if space.until is None:
        return (
            f"{kind} since {utc_minute(space.start)} UTC, until 30 days after the crisis "
            "treatment ends (not yet recorded)"
        )
    return f"{kind} since {utc_minute(space.start)} UTC, until {utc_minute(space.until)} UTC"
