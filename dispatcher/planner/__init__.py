"""The planner: schedules → reminders, idempotently (unique key case + schedule + step).

- ``steps``: one case's steps as reminders (pure)
- ``run``: a planning pass over the store, a page per transaction: after start, on the
  ``[jobs.plan]`` cron and after a reload
"""

from dispatcher.planner.run import planning_pass, run_planner
from dispatcher.planner.steps import plan_case, schedule_steps

__all__ = ["plan_case", "planning_pass", "run_planner", "schedule_steps"]
