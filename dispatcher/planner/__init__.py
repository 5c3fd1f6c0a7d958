"""The planner: schedules → reminders, idempotently (unique key case + schedule + step).

- ``steps``: one case's steps as reminders (pure)
- ``run``: a planning pass over the store, at start and on the ``[jobs.plan]`` cron
"""

from dispatcher.planner.run import run_planner
from dispatcher.planner.steps import plan_case, schedule_steps

__all__ = ["plan_case", "run_planner", "schedule_steps"]
