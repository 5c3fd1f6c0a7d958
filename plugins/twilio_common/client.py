"""The official twilio client, made to fit a daemon: its requests go to the configured API
base (Twilio, a compatible provider, a test server), with a real timeout, without its own
retries (the core retries), and without logging request bodies (they hold numbers and text).
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from .settings import TWILIO_API

TWILIO_HOSTS = (".twilio.com",)


class ProviderHttpClient(AsyncTwilioHttpClient):
    """An ``AsyncTwilioHttpClient`` that sends ``https://*.twilio.com/…`` to ``api_base``.
    Build it inside the running event loop (its aiohttp session binds to it)."""

    def __init__(self, api_base: str, timeout: float, connections: int = 100) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self.extra_headers: dict[str, str] = {}
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=connections),
        )

    def _rewrite(self, url: str) -> str:
        if self.api_base == TWILIO_API:
            return url
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        if scheme == "https" and host.endswith(TWILIO_HOSTS):
            return f"{self.api_base}{slash}{path}"
        return url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        assert self.session is not None
        sent_headers = {**(headers or {}), **self.extra_headers}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent_headers["Authorization"] = f"Basic {token}"
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        async with self.session.request(
            method.upper(),
            self._rewrite(url),
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=sent_headers,
            allow_redirects=allow_redirects,
            **kwargs,
        ) as response:
            return Response(response.status, await response.text(), response.headers)

    async def close(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()


def make_client(
    account_sid: str, auth_token: str, api_base: str, timeout: float, connections: int = 100
) -> Client:
    """A twilio ``Client`` whose async calls (``create_async`` …) go through a
    ``ProviderHttpClient``."""
    http = ProviderHttpClient(api_base, timeout, connections)
    return Client(account_sid, auth_token, http_client=http)
