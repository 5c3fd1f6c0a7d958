"""``schedules.toml``: each schedule's steps (day, channel, template, time) and repeat, and
the jobs the daemon runs on a cron (planning ahead)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from dispatcher.config.durations import Duration
from dispatcher.config.values import Clock, StrictModel, shown

_TEMPLATE_NAME = re.compile(r"^[^\W][\w.\-]{0,99}\Z")
# A step id: a reminder's key within its case and schedule ("+" is kept for repeats).
_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,99}\Z")


class Step(StrictModel):
    """One step of a schedule. ``id`` names it for good: a case's reminder of this step is
    keyed by it, so steps may be inserted, removed, reordered or edited without another
    step's reminder taking its place. Without one it is ``channel/template``, which is what
    a store planned before ids existed was re-keyed to."""

    id: str | None = None
    day: int = Field(ge=-365, le=3650, description="days after the case's due date")
    channel: str
    template: str
    at: Clock = time(10, 0)

    @property
    def key(self) -> str:
        """The step's id, given or derived."""
        return self.id or derived_step_id(self.channel, self.template)

    @field_validator("id")
    @classmethod
    def _step_id(cls, value: str | None) -> str | None:
        if value is not None and not _STEP_ID.match(value):
            raise ValueError(
                f"{shown(value)} is not a step id (up to 100 letters, digits, _ - . /, "
                "starting with a letter or digit; no + and no spaces)"
            )
        return value

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        # The name is part of a file name under templates/<channel>/.
        if not _TEMPLATE_NAME.match(value):
            raise ValueError(
                f"{shown(value)} is not a template name (up to 100 letters, digits, _ - .; "
                "no / and no leading .)"
            )
        return value


def derived_step_id(channel: str, template: str) -> str:
    """The id of a step that gives none: its channel and template, as its template's path
    under ``templates/`` reads."""
    return f"{channel}/{template}"


class Repeat(StrictModel):
    """Repeat one step (``step``: its id, default the last step) every ``every`` until
    ``until_day`` or ``times`` repetitions, whichever comes first."""

    every: Duration
    step: str | None = None
    times: int = Field(10, ge=1, le=1000)
    until_day: int | None = None

    @field_validator("step", mode="before")
    @classmethod
    def _step_named(cls, value: object) -> object:
        # A position silently named another step once a step was inserted before it.
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(
                f"repeat.step = {value} is a position; name the step by its id "
                '(its `id`, or "channel/template" when it has none)'
            )
        return value

    @field_validator("every")
    @classmethod
    def _at_least_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("repeat every must be at least 1h")
        return value


class Schedule(StrictModel):
    steps: tuple[Step, ...] = Field(min_length=1)
    repeat: Repeat | None = None
    catch_up: Literal["latest", "all"] = "latest"

    @model_validator(mode="after")
    def _step_ids(self) -> Schedule:
        seen: dict[str, int] = {}
        for number, step in enumerate(self.steps, start=1):
            if step.key in seen:
                hint = "" if step.id else " (derived from channel/template: give each an `id`)"
                raise ValueError(
                    f"steps {seen[step.key]} and {number} have the same id {step.key!r}{hint}"
                )
            seen[step.key] = number
        if self.repeat and self.repeat.step and self.repeat.step not in seen:
            raise ValueError(
                f"repeat.step {self.repeat.step!r} names no step (ids: {', '.join(seen)})"
            )
        return self

    @property
    def repeated(self) -> Step | None:
        """The step ``repeat`` repeats (None without a repeat)."""
        if self.repeat is None:
            return None
        if self.repeat.step is None:
            return self.steps[-1]
        return next(s for s in self.steps if s.key == self.repeat.step)


class Job(StrictModel):
    cron: str
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value


KNOWN_JOBS = ("plan",)


def _job_name(value: str) -> str:
    if value not in KNOWN_JOBS:
        raise ValueError(f"unknown job {value!r} (known: {', '.join(KNOWN_JOBS)})")
    return value


JobName = Annotated[str, AfterValidator(_job_name)]


# What an arrangement's reminders are planned under (their ``schedule``): no schedule of the
# file may take the name, so a change to a schedule never moves or cancels them.
ARRANGEMENT_SCHEDULE = "arrangement"


class ArrangementSchedules(StrictModel):
    """The schedules arrangements use. ``schedule``: its steps' days are relative to each
    instalment's due date (``day = -3``: three days before), sent for every instalment not
    yet paid; ``on_broken``: the schedule a case moves to when its arrangement breaks (its
    days counted from the break); without it the case's own ladder resumes where it stood."""

    schedule: str | None = None
    on_broken: str | None = None


class SchedulesFile(StrictModel):
    plan_ahead: Duration = timedelta(days=1)
    jobs: dict[JobName, Job] = Field(default_factory=lambda: {"plan": Job(cron="*/5 * * * *")})
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    arrangements: ArrangementSchedules = Field(default_factory=ArrangementSchedules)

    @model_validator(mode="after")
    def _arrangement_schedules(self) -> SchedulesFile:
        if ARRANGEMENT_SCHEDULE in self.schedules:
            raise ValueError(
                f"schedule name {ARRANGEMENT_SCHEDULE!r} is reserved for arrangements' "
                "reminders: give the schedule another name"
            )
        for key in ("schedule", "on_broken"):
            name = getattr(self.arrangements, key)
            if name is not None and name not in self.schedules:
                known = ", ".join(self.schedules) or "none"
                raise ValueError(
                    f"arrangements.{key} = {name!r} names no schedule (schedules: {known})"
                )
        return self
