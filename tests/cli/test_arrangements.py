"""``dispatcher arrangement make|list|cancel|requests`` and ``dispatcher payment`` on the
example deployment's real store: what they print, exit 1 with the field and value for bad input or a
case that allows none, and ``status`` counting arrangements by state."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from dispatcher.store.api import CaseIn, PersonIn
from tests.conftest import Deployment, shanghai_today


def _day(n: int) -> str:
    return (shanghai_today() + timedelta(days=n)).isoformat()


def _case(dep: Deployment, n: int = 1, amount: str = "300.00") -> None:
    store = dep.store()
    try:
        store.upsert(
            [PersonIn(f"P{n}", "Li Wei", "en", "Asia/Shanghai", (f"+861380013800{n}",), (), ())],
            [CaseIn(f"C{n}", f"P{n}", amount, "CNY", date(2026, 1, 1), "standard")],
            datetime.now(UTC),
        )
    finally:
        store.close()


def test_a_plan_paid_listed_and_cancelled_from_the_command_line(deployment: Deployment) -> None:
    dep = deployment
    _case(dep)
    made = dep.cli(
        "arrangement", "make", "C1", "--instalment", f"{_day(5)}:150.00",
        "--instalment", f"{_day(12)}:150.00",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "case C1: plan; arrangement 1 (plan): active; 1: 150.00 CNY by" in made.stdout
    paid = dep.cli("payment", "C1", "150.00", "--date", _day(0), "--reference", "bank-9")
    assert paid.returncode == 0, paid.stderr
    assert "balance 150.00 CNY; instalments settled: 1" in paid.stdout
    status = dep.cli("status")
    assert "arrangements: active 1" in status.stdout
    cancelled = dep.cli("arrangement", "cancel", "C1", "--reason", "asked by phone")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "case C1: open; arrangement 1 (plan): cancelled — asked by phone" in cancelled.stdout
    listed = dep.cli("arrangement", "list", "C1")
    assert "balance 150.00 CNY" in listed.stdout
    assert "arrangements: cancelled 1" in dep.cli("status").stdout
    as_json = json.loads(dep.cli("arrangement", "list", "C1", "--json").stdout)
    assert (as_json["balance"], as_json["currency"]) == ("150.00", "CNY")
    assert [(a["id"], a["kind"], a["state"]) for a in as_json["arrangements"]] == [
        (1, "plan", "cancelled")
    ]


def test_bad_input_exits_2_and_refused_terms_1_naming_field_and_value(
    deployment: Deployment,
) -> None:
    dep = deployment
    _case(dep)
    # Exit 2: a value the command cannot read, or a case that does not exist (usage);
    # exit 1: terms or a case the policy refuses (problems found).
    cases = [
        (
            ("arrangement", "make", "C1", "--instalment", "tomorrow:5"),
            "--instalment 1: 'tomorrow'",
            2,
        ),
        (
            ("arrangement", "make", "C1", "--promise", "12.345", "--on", _day(2)),
            "--promise: 12.345",
            2,
        ),
        (("arrangement", "make", "C1", "--promise", "50"), "--promise needs --on DATE", 2),
        (
            ("arrangement", "make", "C1", "--promise", "500.00", "--on", _day(2)),
            "amount: the instalments total 500.00, more than the balance 300.00",
            1,
        ),
        (
            ("arrangement", "make", "C1", "--promise", "50.00", "--on", _day(-2)),
            f"date: {_day(-2)} is before today",
            1,
        ),
        (("payment", "C1", "abc", "--date", _day(0), "--reference", "r"), "amount: 'abc'", 2),
        (("payment", "C1", "5.00", "--date", "03/01", "--reference", "r"), "--date: '03/01'", 2),
        (("arrangement", "cancel", "C1", "--reason", "x"), "case C1 has no active arrangement", 1),
        (("arrangement", "make", "NOPE", "--promise", "5", "--on", _day(2)), "no case 'NOPE'", 2),
    ]
    for args, words, code in cases:
        result = dep.cli(*args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert words in " ".join(result.stderr.split()), (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert dep.cli("event", "C1", "dispute").returncode == 0
    refused = dep.cli("arrangement", "make", "C1", "--promise", "50.00", "--on", _day(2))
    assert refused.returncode == 1
    assert "the debt is disputed: no arrangement until the dispute is resolved" in " ".join(
        refused.stderr.split()
    )


def test_import_makes_arrangements_and_records_payments_row_by_row(
    deployment: Deployment,
) -> None:
    dep = deployment
    _case(dep)
    _case(dep, 2, "90.00")
    file = dep.root / "arrangements.csv"
    file.write_text(
        "case_id,due,amount,date,reference\n"
        f"C1,{_day(5)},150.00,,\n"
        f"C1,{_day(12)},150.00,,\n"
        f"C1,,100.00,{_day(0)},bank-1\n"
        f"C2,{_day(3)},9x,,\n"
        f"NOPE,{_day(3)},5.00,,\n",
        encoding="utf-8",
    )
    result = dep.cli("arrangement", "import", str(file))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = " ".join(result.stderr.split())
    assert "row 5: amount: '9x' is not an amount" in errors
    assert "row 6: no case 'NOPE'" in errors
    assert "2 of 4 arrangement(s) and payment(s) recorded" in result.stdout
    listed = dep.cli("arrangement", "list", "C1")
    assert "balance 200.00 CNY" in listed.stdout
    assert "arrangement 1 (plan): active; 1: 150.00 CNY by" in listed.stdout
    assert "(paid 100.00)" in listed.stdout
    assert "no arrangements" in dep.cli("arrangement", "list", "C2").stdout


def test_requests_for_the_team_are_listed_within_the_days_asked(deployment: Deployment) -> None:
    dep = deployment
    _case(dep)
    empty = dep.cli("arrangement", "requests")
    assert empty.returncode == 0 and "no requests in the last 30 days" in empty.stdout
    store = dep.store()
    try:
        long_ago = datetime.now(UTC) - timedelta(days=40)
        store.request_arrangement("C1", "plan proposed: old", now=long_ago, source="self-service")
        store.request_arrangement(
            "C1", "plan proposed: \x1b[31mnew", now=datetime.now(UTC), source="self-service"
        )
    finally:
        store.close()
    listed = dep.cli("arrangement", "requests")
    assert listed.returncode == 0 and "case C1  (self-service): plan proposed:" in listed.stdout
    assert "new" in listed.stdout and "old" not in listed.stdout and "\x1b" not in listed.stdout
    assert "old" in dep.cli("arrangement", "requests", "--days", "41").stdout
    as_json = json.loads(dep.cli("arrangement", "requests", "--json").stdout)
    assert [(r["case_id"], r["source"]) for r in as_json["requests"]] == [("C1", "self-service")]
    assert as_json["requests"][0]["detail"] == "plan proposed: \x1b[31mnew"  # JSON escapes it
    bad = dep.cli("arrangement", "requests", "--days", "0")
    assert bad.returncode == 2 and "--days" in bad.stderr
