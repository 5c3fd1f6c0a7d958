"""The sandbox templates run in: Jinja2's immutable sandbox with ``*`` and ``**`` bounded,
a loader that keeps templates inside the config directory and takes their meta block off, and
rendering capped at ``MAX_RENDERED`` characters. Whatever goes wrong in a template is a
``TemplateRefused``."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

_META = re.compile(r"^\s*\{#-?\s*meta\s*\n(.*?)-?#\}\s*?\n?", re.DOTALL)


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


def split_meta(source: str) -> tuple[dict[str, Any], str, int]:
    """Split a template into its meta table, its body and how many lines the meta took."""
    match = _META.match(source)
    if not match:
        return {}, source, 0
    meta = tomllib.loads(match.group(1))
    return meta, source[match.end() :], source[: match.end()].count("\n")


class BoundedSandbox(ImmutableSandboxedEnvironment):
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


def render_bounded(template: jinja2.Template, data: dict[str, Any]) -> str:
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


class MetaStrippingLoader(jinja2.FileSystemLoader):
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
        try:
            real = path.resolve(strict=True)
        except (OSError, ValueError, RuntimeError):
            return  # not there (or a symlink loop): the loader says it is not found
        if not real.is_relative_to(self._boundary):
            raise TemplateRefused(
                f"resolves to {real}, outside the config directory {self._boundary}"
            )
        if not real.is_file():
            raise TemplateRefused("is not a regular file")

    def load(
        self, environment: jinja2.Environment, name: str, globals: Any = None
    ) -> jinja2.Template:
        try:
            template = super().load(environment, name, globals)
        except RecursionError:  # the parser's, on brackets nested thousands deep
            raise TemplateRefused("syntax error: nested too deeply") from None
        meta = self._meta.pop(template.filename or name, {})
        template.dispatcher_meta = meta  # type: ignore[attr-defined]
        # Compiled once with the template, not per message: compiling costs more than rendering.
        subject = meta.get("subject")
        compiled = environment.from_string(subject) if isinstance(subject, str) else None
        template.dispatcher_subject = compiled  # type: ignore[attr-defined]
        return template
