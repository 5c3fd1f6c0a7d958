"""``audit export``: every decision and attempt in a time range, as CSV or JSON Lines.

Contact points are masked unless the operator asks for them (``--unmasked``). Each row names
the policy version its decision was taken under (recorded with the decision: a hash of the
effective policy, presets merged, and every template file) and the template's content hash,
so an export can be matched to the exact rules and wording in force.

In CSV a text cell that a spreadsheet would run as a formula (beginning ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: OWASP's CSV-injection advice) is written with a ``'`` in
front, and so is one that already begins with ``'``: removing one leading ``'`` from any
cell that has one gives back the stored value exactly. JSON Lines are written as stored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from dispatcher.config import Config
from dispatcher.privacy import mask
from dispatcher.runtime.versions import template_hashes

COLUMNS = (
    "record",
    "at",
    "case_id",
    "person_id",
    "reminder_id",
    "channel",
    "template",
    "template_hash",
    "verdict",
    "until",
    "reasons",
    "flags",
    "attempt_id",
    "contact",
    "outcome",
    "counted",
    "error_code",
    "policy_version",
)


def audit_records(
    rows: Iterable[dict[str, Any]], config: Config, *, unmasked: bool = False
) -> Iterator[dict[str, Any]]:
    hashes = template_hashes(config)
    for row in rows:
        contact = row.get("contact")
        if contact and not unmasked:
            contact = mask(row["contact_kind"], contact)
        reasons = row.get("reasons")
        yield {
            "record": row["record"],
            "at": _iso(row["at"]),
            "case_id": row["case_id"],
            "person_id": row.get("person_id"),
            "reminder_id": row.get("reminder_id"),
            "channel": row.get("channel"),
            "template": row.get("template"),
            "template_hash": hashes.get(f"{row.get('channel')}/{row.get('template')}"),
            "verdict": row.get("verdict"),
            "until": _iso(row.get("until")),
            "reasons": json.loads(reasons) if reasons else None,
            "flags": row.get("flags") or None,
            "attempt_id": row.get("attempt_id") if row["record"] == "decision" else row["id"],
            "contact": contact,
            "outcome": row.get("outcome"),
            "counted": row.get("counted"),
            "error_code": row.get("error_code"),
            # The version in force when the decision was taken; events record none.
            "policy_version": row.get("policy_version") or "",
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet runs as a formula: text beginning with a
    formula character (or a ``'``) gets a ``'`` in front; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_export(records: Iterable[dict[str, Any]], fmt: str) -> str:
    out = io.StringIO()
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return out.getvalue()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        record = dict(record)
        if record["reasons"] is not None:
            record["reasons"] = json.dumps(record["reasons"], ensure_ascii=False)
        writer.writerow({key: csv_cell(value) for key, value in record.items()})
    return out.getvalue()
