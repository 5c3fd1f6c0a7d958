"""``outbox``: a dry-run channel that writes each rendered message as one JSON line.

Every configured channel using it appends to ``<directory>/<channel>.jsonl``. It needs no
account, so the example deployment and the tests can run the whole daemon end to end.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import Field

from dispatcher.channel import (
    Channel,
    ChannelSettings,
    Message,
    PermanentError,
    SendResult,
    TransientError,
)
from dispatcher.hookspecs import hookimpl
from dispatcher.model import ContactKind
from dispatcher.privacy import open_private


class OutboxSettings(ChannelSettings):
    directory: Path = Field(Path("var/outbox"), description="where <channel>.jsonl is written")
    contact: ContactKind = Field(ContactKind.PHONE, description="which address kind to use")
    fsync: bool = Field(False, description="fsync after every line (survives power loss)")


class OutboxChannel(Channel):
    """Appends one JSON object per message; the line is written before ``send`` returns, so a
    crash of the daemon can never lose a line that was reported sent."""

    type_name = "outbox"
    Settings = OutboxSettings

    def __init__(self, name: str, settings: OutboxSettings) -> None:
        super().__init__(name, settings)
        self.settings: OutboxSettings = settings
        self.contact_kind = settings.contact
        self._file: IO[bytes] | None = None

    @property
    def path(self) -> Path:
        return self.settings.directory / f"{self.name}.jsonl"

    async def open(self) -> None:
        if self._file is None:
            self.settings.directory.mkdir(parents=True, exist_ok=True)
            # Unbuffered: a line the disk refused is not kept to be written again with the next.
            # 0600 whatever the umask: every line holds a contact point and a message.
            self._file = open_private(self.path, "ab", buffering=0)

    async def send(self, message: Message) -> SendResult:
        if self._file is None:
            raise PermanentError("outbox is not open")
        record: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "attempt_id": message.attempt_id,
            "reminder_id": message.reminder_id,
            "case_id": message.case_id,
            "person_id": message.person_id,
            "channel": message.channel,
            "to": message.contact,
            "locale": message.locale,
            "template": message.template,
            "subject": message.subject,
            "body": message.body,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._file.write(line)
            if self.settings.fsync:
                os.fsync(self._file.fileno())
        except OSError as exc:  # a full or failing disk: worth trying again later
            code = errno.errorcode.get(exc.errno or 0, "oserror")
            raise TransientError(f"outbox not written: {exc.strerror}", code=code) from None
        return SendResult(provider_id=f"outbox:{message.attempt_id}")

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """The outbox channel type."""
    register(OutboxChannel)
