"""Requests as bytes on a socket: what an HTTP client library would refuse to send."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(host: str, port: int, head: bytes, body: bytes = b"") -> RawAnswer:
    """Send ``head`` (request line and headers, without the blank line) and ``body``; read
    the answer (the connection is closed after it)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        length = f"Content-Length: {len(body)}\r\n".encode() if body else b""
        writer.write(head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n" + length + b"\r\n" + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    header, _, content = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return RawAnswer(int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, content)
