"""Twilio's webhooks are idempotent and ordered, through the daemon's HTTP server: a message
or report whose id was seen before changes nothing, so a signed request replayed later (by
Twilio's retries, a proxy, anyone who kept it) never undoes what came after it."""

from __future__ import annotations

from tests.conftest import seed
from tests.plugins.twilio.test_webhooks import (  # noqa: F401  (fixtures)
    NUMBER,
    Deployed,
    deployed,
    on_twilio,
    undelivered,
)


def sid(n: int) -> str:
    return f"SM{n:032x}"


async def opted_out(deployed: Deployed) -> list[tuple[str, str | None]]:  # noqa: F811
    person = await deployed.store("get_person", "P0")
    return [(o.channel, o.contact) for o in person.opt_outs]


async def test_a_replayed_start_after_stop_start_stop_leaves_the_person_opted_out(
    deployed: Deployed,  # noqa: F811
) -> None:
    seed(deployed.dep, 1)
    for body, message in (("STOP", 1), ("START", 2), ("STOP", 3)):
        assert await deployed.reply(body, MessageSid=sid(message)) == 200
    assert await opted_out(deployed) == [("sms", NUMBER)]
    # The first START again, signed as Twilio signed it: already seen, changes nothing.
    assert await deployed.reply("START", MessageSid=sid(2)) == 200
    assert await opted_out(deployed) == [("sms", NUMBER)]
    # A new START (a new message) still lifts it.
    assert await deployed.reply("START", MessageSid=sid(4)) == 200
    assert await opted_out(deployed) == []


async def test_a_replayed_report_does_not_opt_out_again_after_a_start(
    deployed: Deployed,  # noqa: F811
) -> None:
    path, report = await undelivered(deployed, "21610")  # Twilio: the person sent STOP
    assert await deployed.post(path, report) == 204
    assert await opted_out(deployed) == [("sms", NUMBER)]
    assert await deployed.reply("START", MessageSid=sid(9)) == 200
    assert await opted_out(deployed) == []
    assert await deployed.post(path, report) == 204, "the same report again"
    assert await opted_out(deployed) == []
