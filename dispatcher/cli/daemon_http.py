"""The running daemon, asked over HTTP on the listener ``[http] listen`` names (``reload``,
``status``): where it listens, a request and its JSON answer, and the token to send.

Both are read from ``dispatcher.toml`` as far as it can be read: a reload is most wanted when
the file was just edited, so a mistake elsewhere in it (the daemon refuses it and says so)
must not hide ``[http]`` and ``[api]``."""

from __future__ import annotations

import json
import os
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from dispatcher.config import ApiSettings, ConfigError, load_dispatcher_file, resolve_secret
from dispatcher.config.dispatcher_file import HttpSettings

TOKEN_ENV = "DISPATCHER_TOKEN"
Section = TypeVar("Section", HttpSettings, ApiSettings)
# A wildcard listen address is asked on loopback.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
# Straight to the listener: an HTTP proxy in the environment is not for the local daemon.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DaemonUnreachable(Exception):
    """No answer from the daemon (nothing listens, a timeout, an answer that is not JSON)."""


def listener_settings(root: Path) -> tuple[HttpSettings | None, ApiSettings | None]:
    """``[http]`` and ``[api]`` of ``root/dispatcher.toml``, each None when it cannot be read
    (the whole file checked first; when it does not check, each section alone)."""
    try:
        settings = load_dispatcher_file(root)
        return settings.http, settings.api
    except ConfigError:
        pass
    try:
        raw = tomllib.loads((Path(root) / "dispatcher.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    return _section(HttpSettings, raw.get("http", {})), _section(ApiSettings, raw.get("api", {}))


def _section(model: type[Section], raw: Any) -> Section | None:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def local_url(http: HttpSettings) -> str | None:
    """``http://host:port`` of the daemon's listener, or None when it has none to ask
    (``[http]`` disabled, or port 0: chosen at start, known only to the daemon)."""
    host, _, port = http.listen.rpartition(":")
    if not http.enabled or int(port) == 0:
        return None
    host = host.strip("[]")
    host = _LOOPBACK.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ask(
    base: str, method: str, path: str, *, token: str | None = None, timeout: float = 5
) -> tuple[int, Any]:
    """``method path`` of the daemon at ``base``: its status and JSON body (an error status
    too); DaemonUnreachable when it does not answer with JSON."""
    data = b"" if method == "POST" else None
    request = urllib.request.Request(f"{base}{path}", method=method, data=data)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DaemonUnreachable(f"no answer from {base}: {reason}") from None
    try:
        return status, json.loads(body)
    except ValueError:
        raise DaemonUnreachable(f"{base}{path} answered {status} without JSON") from None


def write_token(api: ApiSettings | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token to send: ``$DISPATCHER_TOKEN``, else the first ``[[api.tokens]]`` with the
    ``write`` scope whose secret this environment can read (its ``${ENV}`` variable set, or
    its credential under ``$CREDENTIALS_DIRECTORY``); None when there is none."""
    env = os.environ if environ is None else environ
    given = env.get(TOKEN_ENV, "").strip()
    if given:
        return given
    for token in api.tokens if api else ():
        if "write" not in token.scopes:
            continue
        try:
            value = resolve_secret(token.secret, env).strip()
        except ValueError:
            continue
        if value:
            return value
    return None
