"""The API's reads (a case, the reminder listing) are answered on the daemon's reader while
its store thread is busy inside a write transaction: they never queue behind claims."""

from __future__ import annotations

from asyncio import wait_for

from tests.api.conftest import Api
from tests.conftest import seed
from tests.daemon.test_reader import busy_store_thread


async def test_a_case_and_the_reminder_list_are_read_while_the_writer_is_busy(api: Api) -> None:
    seed(api.dep, 2)
    async with busy_store_thread(api.daemon.store, api.daemon.store_thread) as busy:
        # A read queued behind the writer would wait for ever: wait_for ends the test instead.
        status, case = await wait_for(api.call("GET", "/v1/cases/C0", token="reader"), 30)
        listed, page = await wait_for(api.call("GET", "/v1/reminders?limit=10", token="reader"), 30)
        assert not busy.done(), "the writer was still holding its transaction"
    await busy
    assert (status, case["case"]["id"]) == (200, "C0")
    assert listed == 200 and {r["case_id"] for r in page["items"]} == {"C0", "C1"}
