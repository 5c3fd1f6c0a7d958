"""The console's pages from Jinja2 templates shipped in the package (``ui/templates``), in a
sandboxed environment with autoescaping on: a case id, a rule name or a reason text a person
or a config wrote is always shown as text, never as markup."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from aiohttp import web
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dispatcher.policy.breathing_space import describe
from dispatcher.ui import forms, languages

SECURITY_HEADERS = {
    # Everything the page uses comes from the daemon itself; no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def package_dir(name: str) -> str:
    return str(resources.files("dispatcher.ui").joinpath(name))


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(package_dir("templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["moratorium"] = describe
    return env


def page_context(request: web.Request, language: str) -> dict[str, Any]:
    """What every page's template gets: the language, its texts, the switch link."""
    return {
        "lang": language,
        "t": languages.translator(language),
        "other_lang": languages.other(language),
        "path": request.path_qs,
    }


def render(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(context)


def page(
    request: web.Request, name: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    language = forms.language(request)
    body = render(name, {**page_context(request, language), **context})
    return web.Response(
        text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )
