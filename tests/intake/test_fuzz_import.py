"""Byte-mutated example files through the real `dispatcher import` over a real SQLite file:
no traceback, a sane exit status, and every record either stored or reported — every good
row of the file stored, whatever comes after it (deterministic: hypothesis derandomized)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import date
from pathlib import Path

from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.intake import FIELDS, FileProblem, GoodRow, parse_row, read_rows
from tests.intake.conftest import EXAMPLE_CONFIG, ImportSite

SCHEDULES = ["standard", "gentle"]


def example_rows() -> list[dict[str, str]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sample_data", EXAMPLE_CONFIG / "sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_data"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["sample_data"]
    rows: list[dict[str, str]] = module.sample_rows(date(2026, 11, 20))
    # Half the addresses as real line breaks: quoted cells over several lines.
    return [
        {**r, "address": r["address"].replace("\\n", "\n")} if i % 2 else r
        for i, r in enumerate(rows)
    ]


def example_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(example_rows())
    return out.getvalue()


def example_jsonl() -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in example_rows())


BASES = {"people.csv": example_csv(), "people.jsonl": example_jsonl()}
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252", "gb18030")
INSERTS = (
    b'"',
    b'""',
    b"\n",
    b"\r",
    b",",
    b"\x00",
    b"\xff\xfe",
    b"\xe9",
    b"\xed\xa0\x80",
    b"x" * 140_000,
    b'"' + b"y\n" * 40_000,
    b"[" * 3000,
    b"9" * 5000,
    b"\\ud800",
    b"America",
    b"1e999999999999",
    b"\x1b[31m",
)
# (kind, where in the file as a fraction, a value whose meaning depends on the kind)
Mutation = tuple[str, float, int]
mutations = st.lists(
    st.tuples(
        st.sampled_from(("flip", "insert", "delete", "truncate", "repeat")),
        st.floats(0, 1),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, steps: list[Mutation]) -> bytes:
    """``data`` changed by each step in turn: a byte flipped, bytes inserted (from INSERTS),
    a stretch deleted or repeated, the file cut short."""
    out = bytearray(data)
    for kind, where, value in steps:
        at = int(where * len(out))
        if kind == "flip" and out:
            at = min(at, len(out) - 1)
            out[at] ^= value or 0x80
        elif kind == "insert":
            out[at:at] = INSERTS[value % len(INSERTS)]
        elif kind == "delete":
            del out[at : at + value + 1]
        elif kind == "truncate":
            del out[at:]
        elif kind == "repeat":
            out[at:at] = out[at : at + value * 8]
    return bytes(out)


def expected(path: Path) -> tuple[int, set[str]]:
    """The records of ``path`` as the import reads them, and the cases of its good rows
    (the first row of each case)."""
    records, good = 0, {}
    for number, values in read_rows(path):
        records += 1
        if isinstance(values, dict):
            parsed = parse_row(
                number,
                values,
                schedules=SCHEDULES,
                default_schedule=None,
                default_locale="en",
                default_region=None,
            )
            if isinstance(parsed, GoodRow):
                good.setdefault(parsed.case.id, number)
    return records, set(good)


def check_import(site: ImportSite, path: Path) -> Result:
    """Import ``path`` into an empty store; assert every record is stored or reported."""
    result = site.import_(path)  # an exception (a traceback) fails the test here
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    try:
        records, good = expected(path)
    except FileProblem:  # a CSV header that cannot be read: the file as a whole is refused
        assert result.exit_code == 1 and "row 1 (the header)" in result.output
        assert site.case_ids() == set()
        return result
    summary = re.search(r"imported (\d+) row\(s\); rejected (\d+)", result.output)
    assert summary is not None, result.output
    kept, rejected = int(summary[1]), int(summary[2])
    assert site.case_ids() == good
    assert (kept, kept + rejected) == (len(good), records)
    assert result.exit_code == (1 if rejected else 0)
    return result


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(BASES)),
    encoding=st.sampled_from(ENCODINGS),
    steps=mutations,
)
def test_mutated_files_lose_nothing_and_never_crash(
    site: ImportSite, name: str, encoding: str, steps: list[Mutation]
) -> None:
    data = mutate(BASES[name].encode(encoding, errors="replace"), steps)
    (site.root / "db.sqlite").unlink(missing_ok=True)
    check_import(site, site.write_bytes(name, data))
