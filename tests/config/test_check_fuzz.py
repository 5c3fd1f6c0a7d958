"""`dispatcher check` on generated configs: the example config with keys (leaves and whole
tables) replaced by values of other TOML types, huge, negative or zero numbers and odd
strings. Whatever it is given, it exits 0 or 1 without a traceback, and each failure is a
``file:line: key: message`` line.

Deterministic (``derandomize``) and short for ``make test``; ``DISPATCHER_FUZZ_EXAMPLES``
runs more of the same.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.cli import main

EXAMPLE_CONFIG = Path(__file__).parents[2] / "config"
FILES = ("dispatcher.toml", "policy.toml", "schedules.toml")
PROBLEM = re.compile(r"^\S+:\d+: \S+: .+$")
SUMMARY = re.compile(r"^(\d+) problem\(s\) in ")
EXAMPLES = int(os.environ.get("DISPATCHER_FUZZ_EXAMPLES", "100"))

Path_ = tuple[str | int, ...]


def key_paths(node: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every key and array element below ``node``, tables before what they hold."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        path = (*prefix, key)
        yield path
        if isinstance(value, dict | list):
            yield from key_paths(value, path)


EXAMPLE = {name: tomllib.loads((EXAMPLE_CONFIG / name).read_text("utf-8")) for name in FILES}
PATHS = [(name, path) for name in FILES for path in key_paths(EXAMPLE[name])]

ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "0s",
        "-5m",
        "inf",
        "nan",
        "America",
        "Europe/",
        "../../etc/passwd",
        "${UNSET_DISPATCHER_FUZZ}",
        "credential:nope",
        "\x1b]8;;http://x\x07",
        "\u202e",
        "张三",
        "x" * 5000,
        "24:00",
        "99:99",
        "mon-",
        "*/0 * * * *",
        "sqlite:///",
        "1e999999999999",
        "9" * 40 + "d",
    ]
)
NUMBERS = st.sampled_from(
    [0, -1, 1, 2**31, 2**63 - 1, -(2**63), 10**6, math.inf, -math.inf, math.nan, 1e308, -0.0, 0.5]
)
SCALARS = st.one_of(
    ODD_STRINGS,
    st.text(max_size=30),
    NUMBERS,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "from", "max", "plugin", "day"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_\-]+", key) else toml_string(key)


def toml_string(text: str) -> str:
    # JSON's escapes are TOML's; TOML also forbids a raw DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_document(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """TOML for ``table``: its plain values, then a ``[header]`` per table it holds."""
    lines = [
        f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)
    ]
    for key, value in table.items():
        if isinstance(value, dict):
            header = ".".join(toml_key(part) for part in (*prefix, key))
            lines += ["", f"[{header}]", toml_document(value, (*prefix, key))]
    return "\n".join(lines)


def replaced(document: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], rest, value)}  # type: ignore[index]
    copy = list(document)
    copy[head] = replaced(copy[head], rest, value)  # type: ignore[index]
    return copy


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The example's three files with one to three keys replaced."""
    documents = dict(EXAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        name, path = draw(st.sampled_from(PATHS))
        try:
            documents[name] = replaced(documents[name], path, draw(VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement took this key away
    return documents


def run_check(documents: dict[str, Any]) -> tuple[int, list[str]]:
    """`dispatcher check` on the files serialised from ``documents``."""
    return check_files(
        {name: (toml_document(doc) + "\n").encode("utf-8") for name, doc in documents.items()}
    )


def check_files(files: dict[str, bytes]) -> tuple[int, list[str]]:
    """`dispatcher check` on a directory of ``files`` and the example's templates: its exit
    code and output lines. A traceback is raised (``catch_exceptions=False``)."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "config"
        shutil.copytree(EXAMPLE_CONFIG / "templates", root / "templates")
        for name, data in files.items():
            (root / name).write_bytes(data)
        result = CliRunner().invoke(
            main, ["check", str(root)], env={"COLUMNS": "400"}, catch_exceptions=False
        )
    return result.exit_code, result.output.splitlines()


def assert_answered(code: int, lines: list[str]) -> None:
    assert code in (0, 1), lines
    if code == 0:
        # The OK line, then what the schedules would change in the store, when it is read.
        ok, *store = lines
        assert ": OK — " in ok and store and store[0].startswith("store: "), lines
        assert all(line.startswith(("store: ", "  ")) for line in store), lines
        return
    *problems, summary = lines
    match = SUMMARY.match(summary)
    assert match, lines
    assert problems and int(match.group(1)) == len(problems), lines
    for line in problems:
        assert PROBLEM.match(line), line


def test_the_serialised_example_passes() -> None:
    code, lines = run_check(EXAMPLE)
    assert code == 0, lines


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_configs())
def test_check_answers_every_mutated_config(documents: dict[str, Any]) -> None:
    assert_answered(*run_check(documents))


RAW = {name: (EXAMPLE_CONFIG / name).read_bytes() for name in FILES}


@st.composite
def mutated_bytes(draw: st.DrawFn) -> dict[str, bytes]:
    """The example's files as written, with a few bytes of one replaced or inserted."""
    files = dict(RAW)
    name = draw(st.sampled_from(FILES))
    data = bytearray(files[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        chunk = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"[", b"=", b'"', b"\n"]))
        data[at : at + draw(st.integers(0, 2))] = chunk
    files[name] = bytes(data)
    return files


@settings(
    max_examples=EXAMPLES // 4,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_bytes())
def test_check_answers_every_byte_mutated_config(files: dict[str, bytes]) -> None:
    assert_answered(*check_files(files))
