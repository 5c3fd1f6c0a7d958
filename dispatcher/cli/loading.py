"""The config directory ``--config`` names, as much of it as a command needs: the whole
directory, the whole directory with its plugins (a runtime), or only ``dispatcher.toml`` and
the store it names. A directory that does not check exits 2 with every problem listed, and so
does a store that cannot be opened (with the reason, its URL's password masked).

Only ``run`` and ``check`` resolve the channels' secrets: the commands loading a config here
send nothing, so they run on a host without the credentials (a secret reference stands
unresolved)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.cli.console import config_failed, fail
from dispatcher.config import Config, ConfigError, DispatcherFile, load_config, load_dispatcher_file
from dispatcher.dispatch.store_health import failure_reason
from dispatcher.store import Store, masked_url, open_store

if TYPE_CHECKING:
    from dispatcher.runtime import Runtime


def config_or_exit(root: Path) -> Config:
    """The whole config directory (templates not rendered), or exit 2 listing its errors."""
    try:
        return load_config(root, check_templates=False, secrets=False)
    except ConfigError as exc:
        config_failed(exc)


def runtime_or_exit(root: Path) -> Runtime:
    """The whole config with templates checked and plugins loaded, or exit 2."""
    from dispatcher.runtime import load_runtime

    try:
        return load_runtime(root, secrets=False)
    except ConfigError as exc:
        config_failed(exc)


def store_or_exit(root: Path) -> tuple[DispatcherFile, Store]:
    """``dispatcher.toml`` and the store it names; the other files may be mid-edit."""
    try:
        settings = load_dispatcher_file(root)
    except ConfigError as exc:
        config_failed(exc)
    return settings, store_at_or_exit(settings.store)


def store_at_or_exit(url: str) -> Store:
    """The store at ``url``, its schema brought up to date; or exit 2 saying why not (a
    server that does not answer, a file that cannot be opened, a schema newer than this
    program)."""
    try:
        return open_store(url)
    except Exception as exc:
        fail(f"store {masked_url(url)} cannot be opened: {failure_reason(exc)}")
