"""Message templates: Jinja2, sandboxed, StrictUndefined, one file per channel, name and locale.

Layout: ``templates/<channel>/<name>.<locale>.j2``, or ``<name>.<locale>.txt.j2`` with an
optional HTML part ``<name>.<locale>.html.j2`` next to it (email sends both as multipart; the
HTML part is autoescaped). A person's locale ``zh-CN`` looks for ``zh-CN``, then ``zh``, then
the configured fallback locale. A template may start with a ``{# meta … #}`` comment holding
TOML (``subject``, ``approved_by``, ``allowed_after_cease``, ``voicemail``: the name of a
call's voicemail template, rendered with it into ``meta["voicemail_body"]``); string values in
it are templates too. The meta block belongs to the text part.
"""

from __future__ import annotations

import re
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

_META = re.compile(r"^\s*\{#-?\s*meta\s*\n(.*?)-?#\}\s*?\n?", re.DOTALL)
# The text part of a template is ``.txt.j2`` or plain ``.j2``; the HTML part ``.html.j2``.
TEXT_SUFFIXES = (".txt.j2", ".j2")
HTML_SUFFIX = ".html.j2"


@dataclass(frozen=True)
class Rendered:
    """A rendered message, ready for a channel."""

    body: str
    subject: str | None
    locale: str
    template_file: str
    meta: dict[str, Any] = field(default_factory=dict)
    html: str | None = None


@dataclass(frozen=True)
class TemplateProblem:
    """A template problem. ``file`` is None when the template does not exist (the error then
    belongs to the schedule step that names it)."""

    file: str | None
    line: int
    key: str
    message: str


class TemplateNotFound(LookupError):
    pass


def money(amount: Any, currency: str = "") -> str:
    """``1234.5, "USD"`` → ``1,234.50 USD``."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return f"{amount} {currency}".strip()
    return f"{value:,.2f} {currency}".strip()


def template_key(path: str) -> str:
    """``email/overdue_email.en.txt.j2`` → ``email/overdue_email.en`` (the text part and a
    plain ``.j2`` share a key; the HTML part is ``….en.html``)."""
    if path.endswith(HTML_SUFFIX):
        return path.removesuffix(".j2")
    for suffix in TEXT_SUFFIXES:
        if path.endswith(suffix):
            return path.removesuffix(suffix)
    return path


def split_template_path(path: str) -> tuple[str, str, str]:
    """``email/overdue_email.zh-CN.html.j2`` → ``("email", "overdue_email", "zh-CN")``."""
    channel, filename = path.split("/", 1)
    name, _, locale = template_key(filename).removesuffix(".html").rpartition(".")
    return channel, name, locale


def html_part_of(path: str) -> str:
    """Where the HTML part of the template at ``path`` (its text part) would be."""
    return template_key(path) + HTML_SUFFIX


def split_meta(source: str) -> tuple[dict[str, Any], str, int]:
    """Split a template into its meta table, its body and how many lines the meta took."""
    match = _META.match(source)
    if not match:
        return {}, source, 0
    meta = tomllib.loads(match.group(1))
    return meta, source[match.end() :], source[: match.end()].count("\n")


def sample_context() -> dict[str, Any]:
    """Data shaped like a real render context, for `check` and previews."""
    return {
        "person": {
            "id": "P-SAMPLE",
            "name": "Sample Person",
            "first_name": "Sample",
            "locale": "en",
        },
        "case": {
            "id": "C-SAMPLE",
            "amount": "1234.50",
            "currency": "USD",
            "due_date": date(2026, 1, 1),
            "days_overdue": 7,
        },
        "reminder": {"id": 0, "step": "1", "channel": "sample", "schedule": "sample"},
    }


class TemplateSet:
    """All templates under one directory."""

    def __init__(
        self,
        root: Path,
        *,
        locales: tuple[str, ...] = ("en",),
        fallback_locale: str = "en",
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.locales = locales
        self.fallback_locale = fallback_locale
        self.variables = dict(variables or {})
        self.env = ImmutableSandboxedEnvironment(
            loader=_MetaStrippingLoader(self.root),
            undefined=jinja2.StrictUndefined,
            # A subject (compiled from a string) is plain text: never HTML-escaped.
            autoescape=jinja2.select_autoescape(["html.j2", "html"], default_for_string=False),
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.filters["money"] = money
        self._resolved: dict[tuple[str, str, str], str] = {}
        self._html_parts: dict[str, str | None] = {}  # text part → its HTML part, if any

    # -- lookup ---------------------------------------------------------------------------

    def candidates(self, channel: str, name: str, locale: str) -> list[str]:
        chain = [locale]
        if "-" in locale:
            chain.append(locale.split("-", 1)[0])
        chain.append(self.fallback_locale)
        seen: list[str] = []
        for item in chain:
            for suffix in TEXT_SUFFIXES:
                path = f"{channel}/{name}.{item}{suffix}"
                if path not in seen:
                    seen.append(path)
        return seen

    def resolve(self, channel: str, name: str, locale: str) -> str:
        key = (channel, name, locale)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        for path in self.candidates(channel, name, locale):
            if (self.root / path).is_file():
                self._resolved[key] = path
                return path
        looked = ", ".join(f"templates/{p}" for p in self.candidates(channel, name, locale))
        raise TemplateNotFound(
            f"template {name!r} for channel {channel} locale {locale} not found "
            f"(looked for {looked})"
        )

    def meta(self, channel: str, name: str, locale: str) -> dict[str, Any]:
        path = self.resolve(channel, name, locale)
        template = self.env.get_template(path)
        return dict(getattr(template, "dispatcher_meta", {}))

    # -- rendering ------------------------------------------------------------------------

    def render(self, channel: str, name: str, locale: str, context: dict[str, Any]) -> Rendered:
        path = self.resolve(channel, name, locale)
        data = {**self.variables, **context}
        body, subject, meta = self._render_text(path, data, locale)
        html_path = self._html_path(path)
        html = self.env.get_template(html_path).render(data).strip() if html_path else None
        return Rendered(
            body=body, subject=subject, locale=locale, template_file=path, meta=meta, html=html
        )

    def _render_text(
        self, path: str, data: dict[str, Any], locale: str
    ) -> tuple[str, str | None, dict[str, Any]]:
        """The text part's body and subject, and its meta table."""
        template = self.env.get_template(path)
        body = template.render(data).strip()
        meta: dict[str, Any] = getattr(template, "dispatcher_meta", {})
        subject_template: jinja2.Template | None = getattr(template, "dispatcher_subject", None)
        subject = subject_template.render(data).strip() if subject_template else None
        voicemail = meta.get("voicemail")
        if isinstance(voicemail, str):
            # A call's voicemail is a template of its own (held to the limited-content rules
            # by `check`), rendered with the call so the channel has both at hand.
            channel = path.split("/", 1)[0]
            meta = {**meta, "voicemail_body": self.render(channel, voicemail, locale, data).body}
        return body, subject, meta

    def _html_path(self, path: str) -> str | None:
        if path not in self._html_parts:
            html = html_part_of(path)
            self._html_parts[path] = html if (self.root / html).is_file() else None
        return self._html_parts[path]

    # -- checking -------------------------------------------------------------------------

    def check(self, channel: str, name: str) -> list[TemplateProblem]:
        """Prove that ``name`` exists for every configured locale and renders with sample
        data. Returns every problem found (empty when fine)."""
        problems: list[TemplateProblem] = []
        checked: set[str] = set()
        for locale in self.locales:
            try:
                path = self.resolve(channel, name, locale)
            except TemplateNotFound as exc:
                problems.append(TemplateProblem(None, 0, f"{channel}/{name}", str(exc)))
                continue
            if path in checked:
                continue
            checked.add(path)
            html_path = self._html_path(path)
            for part in (path, html_path) if html_path else (path,):
                problem = self._render_problem(part, locale)
                if problem:
                    problems.append(problem)
        return problems

    def _render_problem(self, path: str, locale: str) -> TemplateProblem | None:
        shown = f"templates/{path}"
        key = template_key(path)
        try:
            template = self.env.get_template(path)
        except jinja2.TemplateSyntaxError as exc:
            return TemplateProblem(shown, exc.lineno or 1, key, f"syntax error: {exc.message}")
        except tomllib.TOMLDecodeError as exc:
            return TemplateProblem(shown, 1, key, f"meta block is not valid TOML: {exc}")
        context = sample_context()
        context["person"]["locale"] = locale
        data = {**self.variables, **context}
        try:
            if path.endswith(HTML_SUFFIX):
                template.render(data)
            else:
                self._render_text(path, data, locale)
        except jinja2.UndefinedError as exc:
            line = _template_line(exc, template.filename)
            return TemplateProblem(shown, line, key, f"undefined variable: {exc.message}")
        except jinja2.TemplateError as exc:
            line = _template_line(exc, template.filename)
            return TemplateProblem(shown, line, key, f"does not render: {exc}")
        except TemplateNotFound as exc:  # a template its meta names (a voicemail)
            return TemplateProblem(shown, 1, key, str(exc))
        return None


def _template_line(exc: BaseException, filename: str | None) -> int:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if filename and frame.filename == filename and frame.lineno:
            return frame.lineno
    return 1


class _MetaStrippingLoader(jinja2.FileSystemLoader):
    """Loads a template without its meta comment, keeping line numbers true by replacing the
    meta block with as many blank lines; the meta is attached to the compiled template."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._meta: dict[str, dict[str, Any]] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        meta, body, meta_lines = split_meta(source)
        self._meta[filename or template] = meta
        return "\n" * meta_lines + body, filename, uptodate

    def load(
        self, environment: jinja2.Environment, name: str, globals: Any = None
    ) -> jinja2.Template:
        template = super().load(environment, name, globals)
        meta = self._meta.pop(template.filename or name, {})
        template.dispatcher_meta = meta  # type: ignore[attr-defined]
        # Compiled once with the template, not per message: compiling costs more than rendering.
        subject = meta.get("subject")
        compiled = environment.from_string(subject) if isinstance(subject, str) else None
        template.dispatcher_subject = compiled  # type: ignore[attr-defined]
        return template
