"""``dispatcher wishes set|show|clear`` on the example deployment's real store: what they
print, exit 2 naming the bad value or the unknown person, and ``explain`` showing the wishes
in force and when each change was made."""

from __future__ import annotations

import json

from dispatcher.intake.wishes import clock
from dispatcher.model import HourWish
from tests.cli.test_arrangements import _case
from tests.conftest import Deployment


def test_wishes_are_set_shown_and_cleared(deployment: Deployment) -> None:
    dep = deployment
    _case(dep)
    done = dep.cli(
        "wishes", "set", "P1",
        "--refuse", "sms",
        "--hours", "voice mon-fri not between 09:00-17:00",
        "--hours", "not before 10:00",
        "--language", "zh-CN",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "person P1: wishes refused sms; no voice between 09:00 and 17:00 on Mon–Fri; "
        "no contact before 10:00; language zh-CN (set " in done.stdout
    )
    assert "by cli)" in done.stdout
    person = dep.store().get_person("P1")
    assert person is not None and person.wishes.refused == ("sms",)
    assert person.wishes.hours[0] == HourWish(
        "not_between", clock("09:00"), clock("17:00"), "voice", frozenset(range(5))
    )
    again = dep.cli("wishes", "set", "P1", "--refuse", "sms")
    assert again.returncode == 0 and "wishes refused sms (set" in again.stdout
    shown = dep.cli("wishes", "show", "P1")
    assert shown.returncode == 0 and "person P1: wishes refused sms (set" in shown.stdout
    as_json = json.loads(dep.cli("wishes", "show", "P1", "--json").stdout)
    assert (as_json["person_id"], as_json["refused"], as_json["source"]) == ("P1", ["sms"], "cli")
    assert as_json["hours"] == [] and as_json["language"] is None  # the last set replaced all

    explained = dep.cli("explain", "C1")
    assert explained.returncode == 0, explained.stderr
    flat = " ".join(explained.stdout.split())
    assert "wishes of the person: refused sms (set" in flat
    assert "templates in en" in flat
    assert "event wishes" in flat and "language zh-CN" in flat, "the earlier change is kept"

    cleared = dep.cli("wishes", "clear", "P1")
    assert cleared.returncode == 0 and "person P1: wishes none" in cleared.stdout
    assert not dep.store().get_person("P1").wishes  # type: ignore[union-attr]


def test_bad_wishes_exit_2_naming_the_value(deployment: Deployment) -> None:
    dep = deployment
    _case(dep)
    for args, message in [
        (
            ("--refuse", "pigeon"),
            "unknown channel 'pigeon' (known: email, field_visit, letter, sms, voice)",
        ),
        (("--hours", "not before 25:00"), "'25:00' is not a time of day"),
        (("--hours", "fax not after 20:00"), "unknown channel 'fax'"),
        (("--language", "Chinese"), "'Chinese' is not a language"),
        ((), "give --refuse, --hours or --language"),
    ]:
        done = dep.cli("wishes", "set", "P1", *args)
        assert done.returncode == 2, (args, done.stdout)
        assert message in " ".join(done.stderr.split()), (args, done.stderr)
        assert "Traceback" not in done.stderr
    unknown = dep.cli("wishes", "set", "P9", "--refuse", "sms")
    assert unknown.returncode == 2 and "no person 'P9'" in unknown.stderr
    assert dep.cli("wishes", "show", "P9").returncode == 2
