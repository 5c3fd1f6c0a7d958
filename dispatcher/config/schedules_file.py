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


class Step(StrictModel):
    day: int = Field(ge=-365, le=3650, description="days after the case's due date")
    channel: str
    template: str
    at: Clock = time(10, 0)

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


class Repeat(StrictModel):
    """Repeat one step (1-based ``step``, default the last) every ``every`` until ``until_day``
    or ``times`` repetitions, whichever comes first."""

    every: Duration
    step: int | None = Field(None, ge=1)
    times: int = Field(10, ge=1, le=1000)
    until_day: int | None = None

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
    def _repeat_step_exists(self) -> Schedule:
        if self.repeat and self.repeat.step and self.repeat.step > len(self.steps):
            raise ValueError(f"repeat.step {self.repeat.step} but only {len(self.steps)} steps")
        return self


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


class SchedulesFile(StrictModel):
    plan_ahead: Duration = timedelta(days=1)
    jobs: dict[JobName, Job] = Field(default_factory=lambda: {"plan": Job(cron="*/5 * * * *")})
    schedules: dict[str, Schedule] = Field(default_factory=dict)
