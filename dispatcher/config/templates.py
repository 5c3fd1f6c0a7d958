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
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

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


class TemplateRefused(jinja2.TemplateError):
    """A template that cannot be used: outside the config directory, unreadable, not UTF-8,
    with a broken meta block, or failing as it renders (a division by zero, a result over
    ``MAX_RENDERED``). A ``TemplateError``, so the send path fails that one reminder."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


# A message is at most this many characters per part (a long letter is ~20,000): more is a
# template's loop gone wrong, refused before it fills memory.
MAX_RENDERED = 200_000
_MAX_BITS = 100_000  # an integer a template computes (10**30103 is about as large)


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
        confine_to: Path | None = None,
    ) -> None:
        """Templates under ``root``; each must resolve inside ``confine_to`` (default the
        config directory, ``root``'s parent): a symlink to ``/etc/passwd`` is refused."""
        self.root = Path(root)
        self.locales = locales
        self.fallback_locale = fallback_locale
        self.variables = dict(variables or {})
        self.env = _BoundedSandbox(
            loader=_MetaStrippingLoader(self.root, confine_to or self.root.parent),
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
        html = _render(self.env.get_template(html_path), data) if html_path else None
        return Rendered(
            body=body, subject=subject, locale=locale, template_file=path, meta=meta, html=html
        )

    def _render_text(
        self, path: str, data: dict[str, Any], locale: str, *, voicemail: bool = True
    ) -> tuple[str, str | None, dict[str, Any]]:
        """The text part's body and subject, and its meta table."""
        template = self.env.get_template(path)
        body = _render(template, data)
        meta: dict[str, Any] = getattr(template, "dispatcher_meta", {})
        subject_template: jinja2.Template | None = getattr(template, "dispatcher_subject", None)
        subject = _render(subject_template, data) if subject_template else None
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
        except RecursionError:
            return TemplateProblem(shown, 1, key, "syntax error: nested too deeply")
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


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` refused where the result would be huge: a template
    cannot build a gigabyte string or a million-digit number before the size cap sees it."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if _too_big(operator, left, right):
            raise SecurityError(f"{operator} would give a result too large for a message")
        return super().call_binop(context, operator, left, right)


def _too_big(operator: str, left: Any, right: Any) -> bool:
    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if operator == "**" and integer(left) and integer(right):
        return abs(left) > 1 and right * left.bit_length() > _MAX_BITS
    if integer(left) and integer(right):
        return left.bit_length() + right.bit_length() > _MAX_BITS
    for sized, count in ((left, right), (right, left)):
        if isinstance(sized, str | list | tuple) and integer(count):
            return len(sized) * count > MAX_RENDERED
    return False


def _is_file(path: Path) -> bool:
    # A name too long for the file system is an OSError, a NUL byte a ValueError: not found.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _render(template: jinja2.Template, data: dict[str, Any]) -> str:
    """``template`` rendered and stripped; any failure (a template's arithmetic raises what
    Python raises) or a result over ``MAX_RENDERED`` is a ``TemplateRefused``."""
    parts: list[str] = []
    size = 0
    try:
        for part in template.generate(data):
            size += len(part)
            if size > MAX_RENDERED:
                raise TemplateRefused(f"renders more than {MAX_RENDERED:,} characters")
            parts.append(part)
    except jinja2.TemplateError:
        raise
    except RecursionError:
        raise TemplateRefused("recurses without end (a macro or include calling itself)") from None
    except Exception as exc:
        raise TemplateRefused(f"{type(exc).__name__}: {exc}") from exc
    return "".join(parts).strip()


def _template_line(exc: BaseException, filename: str | None) -> int:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if filename and frame.filename == filename and frame.lineno:
            return frame.lineno
    return 1


class _MetaStrippingLoader(jinja2.FileSystemLoader):
    """Loads a template without its meta comment, keeping line numbers true by replacing the
    meta block with as many blank lines; the meta is attached to the compiled template."""

    def __init__(self, root: Path, confine_to: Path) -> None:
        super().__init__(root)
        self._root = Path(root)
        self._boundary = Path(confine_to).resolve()
        self._meta: dict[str, dict[str, Any]] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        self._confined(template)
        try:
            source, filename, uptodate = super().get_source(environment, template)
        except UnicodeDecodeError as exc:
            raise TemplateRefused(
                f"not UTF-8: byte 0x{exc.object[exc.start : exc.start + 1].hex()} cannot be "
                "decoded (save the file as UTF-8)",
                line=exc.object[: exc.start].count(b"\n") + 1,
            ) from None
        except OSError as exc:
            raise TemplateRefused(f"cannot be read: {exc.strerror}") from None
        try:
            meta, body, meta_lines = split_meta(source)
        except tomllib.TOMLDecodeError as exc:
            raise TemplateRefused(f"meta block is not valid TOML: {exc}") from None
        except RecursionError:
            raise TemplateRefused("meta block is not valid TOML: nested too deeply") from None
        self._meta[filename or template] = meta
        return "\n" * meta_lines + body, filename, uptodate

    def _confined(self, template: str) -> None:
        """Refuse a template that resolves (through a symlink) outside the config directory,
        or that is not a regular file (a FIFO would block the read for ever)."""
        path = self._root / template
        if not path.exists():
            return  # the loader says it is not found
        real = path.resolve()
        if not real.is_relative_to(self._boundary):
            raise TemplateRefused(
                f"resolves to {real}, outside the config directory {self._boundary}"
            )
        if not real.is_file():
            raise TemplateRefused("is not a regular file")

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
