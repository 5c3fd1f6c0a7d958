"""Versions of what is in force: of the program, of the config directory (``/metrics``), and
of the policy and templates (recorded with every decision; the audit export matches each row
to them)."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from dispatcher import __version__
from dispatcher.config import Config
from dispatcher.config.templates import split_template_path
from dispatcher.policy.presets import effective_policy


def config_version(root: Path) -> str:
    """A short hash of every file in the config directory: what ``/metrics`` and the audit
    trail call the config version."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def template_hashes(config: Config) -> dict[str, str]:
    """``channel/name`` → sha256 over that template's files in every locale."""
    root = Path(config.templates.root)
    found: dict[str, hashlib._Hash] = {}
    for path in sorted(root.glob("*/*.j2")):
        channel, name, _ = split_template_path(f"{path.parent.name}/{path.name}")
        digest = found.setdefault(f"{channel}/{name}", hashlib.sha256())
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return {key: digest.hexdigest()[:16] for key, digest in found.items()}


def policy_version(config: Config) -> str:
    """A hash of the effective policy and every template."""
    digest = hashlib.sha256(effective_policy(config.policy).model_dump_json().encode())
    for key, value in sorted(template_hashes(config).items()):
        digest.update(f"{key}={value}".encode())
    return digest.hexdigest()[:16]


def _program_version() -> str:
    try:
        return metadata.version("dispatcher")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return __version__


# The installed program's version: what `dispatcher --version`, the start line and
# dispatcher_build_info name.
PROGRAM_VERSION = _program_version()
