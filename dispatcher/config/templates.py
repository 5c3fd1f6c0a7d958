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

import traceback
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2

from dispatcher.config.template_env import (
    BoundedSandbox,
    MetaStrippingLoader,
    TemplateRefused,
    render_bounded,
)

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
        "instalment": {
            "number": 1,
            "of": 3,
            "due": date(2026, 2, 1),
            "amount": "100.00",
            "paid": "0",
            "left": "100.00",
        },
        "self_service_url": "https://pay.example.com/s/SAMPLE",
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
        confine_to: Path | None = None,
    ) -> None:
        """Templates under ``root``; each must resolve inside ``confine_to`` (default the
        config directory, ``root``'s parent): a symlink to ``/etc/passwd`` is refused."""
        self.root = Path(root)
        self.locales = locales
        self.fallback_locale = fallback_locale
        self.variables = dict(variables or {})
        self.env = BoundedSandbox(
            loader=MetaStrippingLoader(self.root, confine_to or self.root.parent),
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
            if _is_file(self.root / path):
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
        html = render_bounded(self.env.get_template(html_path), data) if html_path else None
        return Rendered(
            body=body, subject=subject, locale=locale, template_file=path, meta=meta, html=html
        )

    def _render_text(
        self, path: str, data: dict[str, Any], locale: str, *, voicemail: bool = True
    ) -> tuple[str, str | None, dict[str, Any]]:
        """The text part's body and subject, and its meta table."""
        template = self.env.get_template(path)
        body = render_bounded(template, data)
        meta: dict[str, Any] = getattr(template, "dispatcher_meta", {})
        subject_template: jinja2.Template | None = getattr(template, "dispatcher_subject", None)
        subject = render_bounded(subject_template, data) if subject_template else None
        name = meta.get("voicemail")
        if voicemail and isinstance(name, str):
            # A call's voicemail is a template of its own (held to the limited-content rules
            # by `check`), rendered with the call so the channel has both at hand. Its own
            # meta names no further voicemail (`check` refuses one): never followed, so a
            # voicemail naming itself cannot recurse.
            channel = path.split("/", 1)[0]
            voicemail_path = self.resolve(channel, name, locale)
            vm_body = self._render_text(voicemail_path, data, locale, voicemail=False)[0]
            meta = {**meta, "voicemail_body": vm_body}
        return body, subject, meta

    def _html_path(self, path: str) -> str | None:
        if path not in self._html_parts:
            html = html_part_of(path)
            self._html_parts[path] = html if _is_file(self.root / html) else None
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
        except TemplateRefused as exc:
            return TemplateProblem(shown, exc.line, key, str(exc))
        except jinja2.TemplateError as exc:
            return TemplateProblem(shown, 1, key, f"cannot be loaded: {exc}")
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
            line = _template_line(exc.__cause__ or exc, template.filename)
            return TemplateProblem(shown, line, key, f"does not render: {exc}")
        except TemplateNotFound as exc:  # a template its meta names (a voicemail)
            return TemplateProblem(shown, 1, key, str(exc))
        return None


def _is_file(path: Path) -> bool:
    # A name too long for the file system is an OSError, a NUL byte a ValueError: not found.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _template_line(exc: BaseException, filename: str | None) -> int:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if filename and frame.filename == filename and frame.lineno:
            return frame.lineno
    return 1
