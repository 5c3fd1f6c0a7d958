"""``dispatcher reload``: ask the running daemon to check its config directory again and
swap it in (``POST /-/reload`` on its listener, with a token of the ``write`` scope). A bad
config is refused, and the daemon keeps the one it runs: the problems are printed and the
command exits 1."""

from __future__ import annotations

import sys

import click

from dispatcher.cli.console import PROBLEMS, fail, out, print_json
from dispatcher.cli.daemon_http import (
    TOKEN_ENV,
    DaemonUnreachable,
    ask,
    listener_settings,
    local_url,
    write_token,
)
from dispatcher.terminal import printable


@click.command()
@click.option(
    "--url",
    help="The daemon's listener, e.g. http://127.0.0.1:8080 (default: [http] listen of the "
    "config directory).",
)
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for the reload.")
@click.option("--json", "as_json", is_flag=True, help="The reload's record as one JSON object.")
@click.pass_context
def reload(ctx: click.Context, url: str | None, timeout: float, as_json: bool) -> None:
    """Have the running daemon check its config and reload it. Exit 0 with the new config
    version when it was applied; 1 with every problem when it was refused (the daemon keeps
    its config); 2 when the daemon cannot be asked. The token: $DISPATCHER_TOKEN, else the
    first [[api.tokens]] with the write scope whose secret this shell can read."""
    root = ctx.obj["config"]
    http, api = listener_settings(root)
    base = (url or "").rstrip("/") or (local_url(http) if http else None)
    if base is None:
        fail(
            f"the daemon's listener is not known ({root}/dispatcher.toml: [http] unreadable, "
            "disabled or on port 0): give --url"
        )
    token = write_token(api)
    if token is None:
        fail(
            f"no token to send: set {TOKEN_ENV} to a token with the write scope, or the "
            "variable or credential of one in [[api.tokens]]"
        )
    try:
        status, body = ask(base, "POST", "/-/reload", token=token, timeout=timeout)
    except DaemonUnreachable as exc:
        fail(str(exc))
    if status not in (200, 409) or not isinstance(body, dict) or "ok" not in body:
        detail = body.get("detail", body) if isinstance(body, dict) else body
        fail(f"the daemon refused the request ({status}): {detail}")
    if as_json:
        print_json(body)
    elif body["ok"]:
        out.print(printable(f"reloaded: config {body['version']}"), markup=False)
    else:
        for problem in body["problems"]:
            out.print(printable(problem), markup=False)
        out.print(
            printable(
                f"reload refused: {len(body['problems'])} problem(s); "
                f"the daemon keeps config {body['version']}"
            ),
            markup=False,
        )
    if not body["ok"]:
        sys.exit(PROBLEMS)
