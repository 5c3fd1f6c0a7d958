"""The command group: ``--version`` (program, store schema, plugins with versions), shell
completion from click, and the exit codes every command shares (0 ok, 1 problems found, 2
usage or environment)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.runtime.versions import PROGRAM_VERSION
from dispatcher.store.schema import SCHEMA_VERSION
from tests.conftest import DISPATCHER, Deployment


def test_version_names_the_program_the_schema_and_each_plugin() -> None:
    result = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == [f"dispatcher {PROGRAM_VERSION}", f"store schema {SCHEMA_VERSION}"]
    plugins = {line.split()[1]: line for line in lines[2:]}
    assert set(plugins) == {"outbox", "email", "sms", "voice", "letter"}  # DISPATCHER_PLUGINS
    assert plugins["sms"] == f"plugin sms {PROGRAM_VERSION} (dispatcher)"


def test_version_needs_no_config_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    result = CliRunner().invoke(main, ["--config", str(missing), "--version"])
    assert result.exit_code == 0 and result.output.startswith("dispatcher ")


def test_shell_completion_scripts_come_from_click() -> None:
    for shell, marker in (
        ("bash", "complete -o nosort -F _dispatcher_completion dispatcher"),
        ("zsh", "compdef _dispatcher_completion dispatcher"),
    ):
        result = subprocess.run(
            [str(DISPATCHER)],
            env={**os.environ, "_DISPATCHER_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout, result.stdout
    completed = subprocess.run(
        [str(DISPATCHER)],
        env={
            **os.environ,
            "_DISPATCHER_COMPLETE": "bash_complete",
            "COMP_WORDS": "dispatcher rel",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.stdout.split() == ["plain,reload"]


def test_usage_and_environment_errors_are_exit_2(
    open_deployment: Deployment, tmp_path: Path
) -> None:
    dep = open_deployment
    runner = CliRunner()

    def code(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, ["--config", str(dep.config), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result
        return result.exit_code, result.output

    assert code("check", str(tmp_path / "no-such-dir"))[0] == 2
    assert code("explain", "NOPE") == (2, "error: no case or reminder 'NOPE'\n")
    assert code("import", "--chunk", "0", str(dep.config / "dispatcher.toml"))[0] == 2
    assert code("status", "--bogus")[0] == 2  # click's own usage error
    # A store that cannot be opened: the reason, no traceback.
    (tmp_path / "a-file").write_text("")
    dep.set("dispatcher.toml", r'^store = ".*"$', f'store = "sqlite:///{tmp_path}/a-file/x.db"')
    status, output = code("status")
    assert status == 2 and "cannot be opened: " in output, output
    assert "Traceback" not in output
    assert code("audit", "export", "--since", "2026-01-01", "--until", "2026-02-01")[0] == 2


def test_problems_found_are_exit_1(open_deployment: Deployment) -> None:
    open_deployment.set("policy.toml", r'^jitter = ".*"$', 'jitter = "whenever"')
    result = CliRunner().invoke(main, ["--config", str(open_deployment.config), "check"])
    assert result.exit_code == 1 and "jitter" in result.output
