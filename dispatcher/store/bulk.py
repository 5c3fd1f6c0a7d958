"""Statements run for many rows at once, the rows bound as the driver takes them.

SQLAlchemy's executemany builds and converts a parameter dict per row, every column of it
(several µs a row: a tenth of a 500-reminder claim). Here a statement is compiled once per
database, each row is a plain tuple or dict of its values, and only the values whose type
converts (instants, booleans) go through the type's converter: the same one SQLAlchemy uses,
so what reaches the database is identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.sql import Executable

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Compiled:
    """A statement's SQL for one database: its parameters in order (name, converter or None
    when passed as it is, the value the statement itself gives it), whether the driver
    takes them as a tuple."""

    sql: str
    names: tuple[tuple[str, Convert | None, Any], ...]
    positional: bool


_COMPILED: dict[tuple[Executable, str, str, str], Compiled] = {}


def _compile(conn: Connection, statement: Executable) -> Compiled:
    dialect = conn.dialect  # its driver too: drivers of one database differ in paramstyle
    key = (statement, dialect.name, dialect.driver, dialect.paramstyle)
    found = _COMPILED.get(key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
        names = tuple(
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                compiled.binds[name].value,
            )
            for name in (compiled.positiontup or compiled.binds)
        )
        found = Compiled(str(compiled), names, bool(compiled.positional))
        _COMPILED[key] = found
    return found


def _parameters(compiled: Compiled, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    # Each row's values in one comprehension; then only the columns whose type converts, and
    # each distinct value of such a column once (the rows of a batch share most instants:
    # the claim's "now"). This runs for every value of every row.
    names = [(name, given) for name, _, given in compiled.names]
    converting: list[tuple[int, Convert, dict[Any, Any]]] = [
        (index, convert, {})
        for index, (_, convert, _) in enumerate(compiled.names)
        if convert is not None
    ]
    out: list[Any] = []
    for row in rows:
        get = row.get
        values = [get(name, given) for name, given in names]
        for index, convert, seen in converting:
            raw = values[index]
            if raw is not None:
                done = seen.get(raw)
                if done is None:
                    done = seen[raw] = convert(raw)
                values[index] = done
        out.append(values)
    if compiled.positional:
        return [tuple(values) for values in out]
    keys = [name for name, _ in names]
    return [dict(zip(keys, values, strict=True)) for values in out]


def execute_many(conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run ``statement`` (a module-level constant: it is compiled once and kept) once per
    row of ``rows``, each a mapping of the bound parameters' names to their values (a
    parameter a row leaves out takes the value the statement gives it). Returns the rows
    the statement touched, over all of them."""
    if not rows:
        return 0
    compiled = _compile(conn, statement)
    return conn.exec_driver_sql(compiled.sql, _parameters(compiled, rows)).rowcount or 0


# -- reads and writes over a list of ids ---------------------------------------------------
#
# ``column.in_(ids)`` in SQLAlchemy makes a bound parameter of every id as the statement is
# built, then renders and converts each again at every execution: at 500 ids, about a
# millisecond a statement, more than most of the claim's reads cost in the database. Here
# the statement is compiled once with one expanding parameter, its SQL with n placeholders
# kept per n, and rows come back as the driver gives them, with only the columns whose type
# converts (instants, booleans) converted, by the type's own processor.


@dataclass(frozen=True)
class CompiledIn:
    """A statement with one expanding parameter, compiled for one database."""

    sql: str  # each expanding parameter as its marker, ``__[POSTCOMPILE_<name>]``
    expanding: str
    lists: frozenset[str]  # every expanding parameter: ``expanding``, and fixed lists
    params: tuple[tuple[str, Convert | None, Any], ...]  # as rendered: name, converter, given
    template: str  # one placeholder, with ``%(name)s`` for its name
    positional: bool
    results: tuple[tuple[int, Convert], ...]  # (column index, converter) of result columns
    by_size: dict[int, str]


_COMPILED_IN: dict[tuple[Executable, str, str, str], CompiledIn] = {}


def _compile_in(conn: Connection, statement: Executable, expanding: str) -> CompiledIn:
    dialect = conn.dialect
    key = (statement, dialect.name, dialect.driver, dialect.paramstyle)
    found = _COMPILED_IN.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        rendered = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
        order = compiled.positiontup or list(rendered)
        params = tuple(
            (
                name,
                rendered[name].type.dialect_impl(dialect).bind_processor(dialect),
                rendered[name].value,
            )
            for name in order
        )
        results = tuple(
            (index, convert)
            for index, column in enumerate(statement.exported_columns)  # type: ignore[attr-defined]
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        )
        lists = frozenset(compiled.bind_names[b] for b in compiled.binds.values() if b.expanding)
        found = CompiledIn(
            str(compiled),
            expanding,
            lists,
            params,
            compiled.bindtemplate,
            bool(compiled.positional),
            results,
            {},
        )
        _COMPILED_IN[key] = found
    return found


def _sql_for(compiled: CompiledIn, size: int) -> str:
    """The SQL for ``size`` values; a fixed list (``IN`` of the statement's own values) is
    rendered as placeholders for its values too."""
    sql = compiled.by_size.get(size)
    if sql is None:
        sql = compiled.sql
        for name, _, default in compiled.params:
            if name in compiled.lists:
                count = size if name == compiled.expanding else len(default)
                marks = ", ".join(compiled.template % {"name": f"{name}_{i}"} for i in range(count))
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks)
        compiled.by_size[size] = sql
    return sql


def _bound(compiled: CompiledIn, chunk: Sequence[Any], given: Mapping[str, Any]) -> Any:
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for name, convert, default in compiled.params:
        if name in compiled.lists:
            items = chunk if name == compiled.expanding else default
            values = list(items) if convert is None else [convert(v) for v in items]
            if compiled.positional:
                positional += values
            else:
                named.update((f"{name}_{i}", v) for i, v in enumerate(values))
            continue
        value = given.get(name, default)
        if convert is not None and value is not None:
            value = convert(value)
        if compiled.positional:
            positional.append(value)
        else:
            named[name] = value
    return tuple(positional) if compiled.positional else named


def rows_in(
    conn: Connection,
    statement: Executable,
    expanding: str,
    values: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    size: int = 500,
    *,
    raw: bool = False,
) -> list[Any]:
    """The rows ``statement`` (a module-level constant, compiled once and kept; a select, or
    a write with ``RETURNING``) gives for ``values`` bound to its expanding parameter
    ``expanding``, run once per ``size`` of them; its other parameters from ``params`` (or
    as the statement gives them). Rows are tuples, converted as SQLAlchemy converts them;
    with ``raw`` as the driver gives them (the caller converts with ``converters``)."""
    compiled = _compile_in(conn, statement, expanding)
    out: list[Any] = []
    for result in _each_chunk(conn, compiled, values, params, size):
        rows = result.fetchall()
        if compiled.results and not raw:
            for row in rows:
                converted = list(row)
                for index, convert in compiled.results:
                    converted[index] = convert(converted[index])
                out.append(tuple(converted))
        else:
            out += rows
    return out


def execute_in(
    conn: Connection,
    statement: Executable,
    expanding: str,
    values: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    size: int = 500,
) -> int:
    """Run the write ``statement`` (a module-level constant) for ``values`` bound to its
    expanding parameter ``expanding``, once per ``size`` of them, its other parameters from
    ``params``: one statement for many rows that take the same values. Returns the rows it
    touched."""
    compiled = _compile_in(conn, statement, expanding)
    return sum(result.rowcount or 0 for result in _each_chunk(conn, compiled, values, params, size))


def _each_chunk(
    conn: Connection,
    compiled: CompiledIn,
    values: Sequence[Any],
    params: Mapping[str, Any] | None,
    size: int,
) -> Iterator[CursorResult[Any]]:
    """``compiled`` run once per ``size`` of ``values`` (none for no values): each result."""
    given = params or {}
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        yield conn.exec_driver_sql(_sql_for(compiled, len(chunk)), _bound(compiled, chunk, given))


def converters(conn: Connection, statement: Executable, expanding: str) -> list[Convert | None]:
    """Per result column of ``statement`` (as ``rows_in`` takes it), the converter of its
    driver values, None where a value is taken as it is."""
    compiled = _compile_in(conn, statement, expanding)
    out: list[Convert | None] = [None] * len(statement.exported_columns)  # type: ignore[attr-defined]
    for index, convert in compiled.results:
        out[index] = convert
    return out
