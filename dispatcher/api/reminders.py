"""``GET /v1/reminders``: reminders by state and channel, in id order, a page at a time."""

from __future__ import annotations

from dispatcher.api.call import Answer, Call
from dispatcher.api.models import ReminderPage, ReminderQuery
from dispatcher.api.views import reminder_view


async def list_reminders(call: Call) -> Answer:
    query: ReminderQuery = call.query
    core = call.core
    rows = await core.read(
        core.store.list_reminders,
        query.state.value if query.state else None,
        query.channel,
        query.after,
        query.limit,
    )
    items = [reminder_view(row.reminder, row.last_reason) for row in rows]
    next_after = items[-1].id if len(items) == query.limit else None
    return 200, ReminderPage(items=items, next_after=next_after)
