"""``field-visit``: books a home visit by a field agent as a task in the CRM.

One send is one signed POST of the task to the configured webhook: the person's postal address,
the case, and the rendered template as the agent's brief. Whether and when a visit may be
booked is the policy's business (policy.toml), never this channel's. At most ``HTTP_SLOTS``
requests are under way at once: a message waits for a slot in ``ready``, never in ``send``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from dispatcher.channel import (
    Channel,
    Message,
    PermanentError,
    Reconciled,
    SendResult,
    Slots,
    TransientError,
    UnknownAttempt,
)
from dispatcher.model import ContactKind
from dispatcher_fieldvisit.answers import placed, refused
from dispatcher_fieldvisit.settings import FieldVisitSettings
from dispatcher_fieldvisit.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)

log = logging.getLogger("dispatcher_fieldvisit")
USER_AGENT = "dispatcher-fieldvisit/0.1"
# Requests to the CRM at once: the session's connections, so a send never waits for one.
HTTP_SLOTS = 8


def task_body(message: Message, queue: str | None) -> bytes:
    """The visit task as the CRM receives it (JSON, UTF-8)."""
    task = {
        "type": "field_visit",
        "attempt_id": message.attempt_id,
        "reminder_id": message.reminder_id,
        "case_id": message.case_id,
        "person_id": message.person_id,
        "address": message.contact,
        "locale": message.locale,
        "template": message.template,
        "subject": message.subject,
        "brief": message.body,
        "queue": queue,
    }
    return json.dumps(task, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FieldVisitChannel(Channel):
    type_name = "field-visit"
    contact_kind = ContactKind.POSTAL
    Settings = FieldVisitSettings

    def __init__(self, name: str, settings: FieldVisitSettings) -> None:
        super().__init__(name, settings)
        self.settings: FieldVisitSettings = settings
        self._session: aiohttp.ClientSession | None = None
        self._slots = Slots(HTTP_SLOTS)

    async def open(self) -> None:
        if self._session is None:
            seconds = self.settings.timeout.total_seconds()
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=seconds, connect=seconds),
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=HTTP_SLOTS),
            )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def ready(self, message: Message) -> None:
        """Wait for one of the channel's HTTP slots."""
        await self._slots.take(message)

    def release(self, message: Message) -> None:
        self._slots.give_back(message)

    async def send(self, message: Message) -> SendResult:
        if self._session is None:
            raise PermanentError("field-visit channel is not open")
        body = task_body(message, self.settings.queue)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            # The core retries a refused send with the same attempt: the CRM books it once.
            IDEMPOTENCY_HEADER: message.attempt_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(
                self.settings.secret.get_secret_value().encode("utf-8"), timestamp, body
            ),
        }
        try:
            # No redirects: a POST is sent once, to the endpoint the admin configured.
            async with self._session.post(
                self.settings.endpoint, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                reply = await _json(response)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Nothing reached the CRM: the core may try again at once.
            raise TransientError(
                f"CRM unreachable ({type(exc).__name__})", code="connect"
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The request went out and no answer came back: the task may exist. The attempt
            # counts, so the policy's limit holds back a second visit, and the core does not
            # repeat it in process.
            raise TransientError(
                f"no answer from the CRM ({type(exc).__name__})", code="no_answer", attempted=True
            ) from None
        if 200 <= status < 300:
            result = placed(reply)
            log.debug(
                "visit task created",
                extra={"fields": {"attempt": message.attempt_id, "task": result.provider_id}},
            )
            return result
        raise refused(status, reply, retry_after, datetime.now(UTC))

    # The CRM books one task per idempotency key (the attempt id): an unknown visit is
    # posted again, and the CRM answers with the task it booked, or books it now.
    reconcile_resends = True

    async def reconcile(self, attempts: Sequence[UnknownAttempt]) -> Mapping[str, Reconciled]:
        """Post each unknown visit again under its attempt id (``resend_to_reconcile``)."""
        return {a.attempt_id: await self.resend_to_reconcile(a) for a in attempts}


async def _json(response: aiohttp.ClientResponse) -> Any:
    if response.content_type != "application/json":
        return None
    try:
        return await response.json()
    except ValueError:
        return None
