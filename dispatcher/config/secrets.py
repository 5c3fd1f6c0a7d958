"""Secrets stay out of config files: a setting names one as ``${ENV}`` (the environment) or
``credential:NAME`` (systemd's ``$CREDENTIALS_DIRECTORY``), resolved when the config loads."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

_SECRET_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_SECRET_CRED = re.compile(r"^credential:([A-Za-z0-9_.\-]+)$")


def resolve_secret(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Resolve ``${ENV}`` from the environment and ``credential:NAME`` from systemd's
    ``$CREDENTIALS_DIRECTORY``; any other string is returned as is."""
    env = os.environ if environ is None else environ
    match = _SECRET_ENV.match(value)
    if match:
        name = match.group(1)
        if name not in env:
            raise ValueError(f"environment variable {name} is not set")
        return env[name]
    match = _SECRET_CRED.match(value)
    if match:
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ValueError(
                f"credential {match.group(1)} requested but CREDENTIALS_DIRECTORY is not set "
                "(use LoadCredential= in the unit)"
            )
        path = Path(directory) / match.group(1)
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ValueError(
                f"credential {match.group(1)} cannot be read: {exc.strerror}"
            ) from None
    return value


def is_secret_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(_SECRET_ENV.match(value) or _SECRET_CRED.match(value))


def _secret_reference(value: Any) -> str:
    # The message never repeats the value: a literal written here may be a real token.
    if not is_secret_reference(value):
        raise ValueError(
            'must be a reference to a secret ("${ENV_VAR}" or "credential:NAME"), '
            "never the secret itself"
        )
    return str(value)


SecretReference = Annotated[str, BeforeValidator(_secret_reference)]
