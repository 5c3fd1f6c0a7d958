"""Example people and cases for `make run`: prints a CSV for `dispatcher import` to stdout.

About fifty fictional people with one overdue case each (a few with two), in seven time zones;
two have no time zone on file, so it is inferred from their numbers and addresses as the policy
does (one in Shanghai, due yesterday on the standard ladder: its 10:00 SMS goes at 10:00
Asia/Shanghai, one in Chicago). Due dates are relative to today and
spread over the schedule's steps, so a daemon started at any hour sends some reminders at once
and defers others to the person's next allowed window. One case each is in the states plan,
hardship, disputed, ceased and paid, to show how the policy treats them.

Phone numbers come from ranges set aside for fiction where a country has one (NANP 555-01XX,
Ofcom's 020 7946 0XXX, ACMA's 0491 570 XXX, the German 030 23125 XXX media range); China has
none, so those are variations of the phonenumbers library's example mobile number. Every
number is checked with phonenumbers before anything is printed. Output is deterministic for a
given day.

    python config/sample_data.py > people.csv
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from dispatcher.intake import FIELDS as COLUMNS

SEED = 20261101
EMAIL_DOMAINS = ("example.com", "example.cn")

# Days overdue. Every zone gets one case whose latest past step is an SMS, a call and an
# email (standard ladder: days 1, 3, 7, 15, then the letter every 14 days): those are held to
# the person's local windows, so at any hour some zones are open and some are not. The rest
# are drawn from the whole 0..40 range.
CORE_OVERDUE_DAYS = (1, 4, 8)
OTHER_OVERDUE_DAYS = (0, 2, 3, 5, 6, 10, 11, 16, 23, 30, 37, 40)

SURNAMES_ZH = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙")
GIVEN_ZH = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟")
STREETS_ZH = ("幸福路", "和平街", "建设大道", "光明路", "人民路", "长安街")

FIRST_US = ("James", "Mary", "Robert", "Linda", "Michael", "Susan", "David", "Karen", "Maria")
LAST_US = ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson")
FIRST_GB = ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Emily")
LAST_GB = ("Taylor", "Brown", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes")
FIRST_DE = ("Lukas", "Anna", "Jonas", "Lea", "Felix", "Mia", "Paul", "Laura")
LAST_DE = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann")
FIRST_AU = ("Noah", "Charlotte", "William", "Olivia", "Lachlan", "Chloe", "Cooper", "Ruby")
LAST_AU = ("Nguyen", "Kelly", "Ryan", "Campbell", "Stewart", "Morris", "Young", "King")
STREETS_EN = ("Elm Street", "Maple Avenue", "Harbour Road", "Mill Lane", "Station Road")


@dataclass(frozen=True)
class Region:
    """Where a group of sample people live and how their numbers and addresses look."""

    zone: str
    region: str  # phonenumbers region code
    locale: str
    currency: str
    first: tuple[str, ...]
    last: tuple[str, ...]
    phone: Callable[[random.Random], str]
    town: str


def _nanp(area_codes: tuple[str, ...]) -> Callable[[random.Random], str]:
    # NANPA keeps 555-0100 to 555-0199 for fiction in every area code.
    return lambda rng: f"+1{rng.choice(area_codes)}5550{rng.randint(100, 199)}"


def _london(rng: random.Random) -> str:
    return f"+4420 7946 0{rng.randint(0, 999):03d}"


def _berlin(rng: random.Random) -> str:
    return f"+493023125{rng.randint(0, 999):03d}"


def _sydney(rng: random.Random) -> str:
    return f"+61491570{rng.randint(6, 159):03d}"


def _china(rng: random.Random) -> str:
    example = phonenumbers.example_number_for_type("CN", phonenumbers.PhoneNumberType.MOBILE)
    digits = phonenumbers.national_significant_number(example)
    return f"+86{digits[:-4]}{rng.randint(0, 9999):04d}"


REGIONS = (
    Region("Asia/Shanghai", "CN", "zh-CN", "CNY", SURNAMES_ZH, GIVEN_ZH, _china, "上海市"),
    Region(
        "America/New_York",
        "US",
        "en",
        "USD",
        FIRST_US,
        LAST_US,
        _nanp(("212", "646")),
        "New York, NY",
    ),
    Region(
        "America/Los_Angeles",
        "US",
        "en",
        "USD",
        FIRST_US,
        LAST_US,
        _nanp(("213", "310")),
        "Los Angeles, CA",
    ),
    Region(
        "America/Chicago",
        "US",
        "en",
        "USD",
        FIRST_US,
        LAST_US,
        _nanp(("312", "773")),
        "Chicago, IL",
    ),
    Region("Europe/London", "GB", "en", "GBP", FIRST_GB, LAST_GB, _london, "London"),
    Region("Europe/Berlin", "DE", "en", "EUR", FIRST_DE, LAST_DE, _berlin, "Berlin"),
    Region("Australia/Sydney", "AU", "en", "AUD", FIRST_AU, LAST_AU, _sydney, "Sydney NSW"),
)

# (region index, person number within the region) → a case state other than open.
SPECIAL_STATES = {
    (1, 2): "plan",
    (4, 1): "hardship",
    (0, 3): "disputed",
    (2, 4): "ceased",
    (6, 2): "paid",
}
# People who owe on two cases.
TWO_CASES = {(0, 1), (3, 2), (5, 4)}
PEOPLE_PER_REGION = 7


def _name(rng: random.Random, region: Region) -> str:
    if region.locale.startswith("zh"):
        return rng.choice(region.first) + "".join(rng.sample(region.last, rng.choice((1, 2))))
    return f"{rng.choice(region.first)} {rng.choice(region.last)}"


def _address(rng: random.Random, region: Region, number: int) -> str:
    # intake turns a literal backslash-n into a line break; ';' would split the address.
    if region.locale.startswith("zh"):
        street = rng.choice(STREETS_ZH)
        return f"{region.town}示例区{street}{rng.randint(1, 300)}号\\n{number}室"
    return f"{rng.randint(1, 250)} {rng.choice(STREETS_EN)}\\n{region.town}"


def _email(rng: random.Random, person_id: str, region: Region) -> str:
    domain = "example.cn" if region.region == "CN" else "example.com"
    return f"{person_id.lower().replace('-', '.')}.{rng.randint(10, 99)}@{domain}"


def _phone(rng: random.Random, region: Region) -> str:
    parsed = phonenumbers.parse(region.phone(rng))
    # Half in E.164, half as people type them: the import normalises both.
    style = rng.choice(
        (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )
    return phonenumbers.format_number(parsed, style)


def sample_rows(today: date, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    person_no = 0
    case_no = 1000
    for r_index, region in enumerate(REGIONS):
        days = [*CORE_OVERDUE_DAYS, *rng.sample(OTHER_OVERDUE_DAYS, PEOPLE_PER_REGION - 3)]
        rng.shuffle(days)
        for p_index in range(PEOPLE_PER_REGION):
            person_no += 1
            person_id = f"P-{person_no:03d}"
            # The last person of the first and fourth region has no zone: it is inferred.
            no_zone = p_index == PEOPLE_PER_REGION - 1 and r_index in (0, 3)
            zone = "" if no_zone else region.zone
            phones = [_phone(rng, region)]
            if p_index == 5:
                phones.append(_phone(rng, region))
            person = {
                "person_id": person_id,
                "name": _name(rng, region),
                "locale": region.locale,
                "timezone": zone,
                "phone": ";".join(phones),
                "email": "" if p_index == 3 else _email(rng, person_id, region),
                "address": "" if p_index == 4 else _address(rng, region, person_no),
            }
            count = 2 if (r_index, p_index) in TWO_CASES else 1
            for extra in range(count):
                case_no += 1
                overdue = days[p_index] if extra == 0 else rng.choice(OTHER_OVERDUE_DAYS)
                amount = rng.choice((85, 140, 260, 480, 950, 1800, 3200)) + rng.randint(0, 99) / 100
                state = SPECIAL_STATES.get((r_index, p_index), "open") if extra == 0 else "open"
                schedule = "gentle" if amount < 300 else "standard"  # small debts: gentler
                if no_zone and r_index == 0 and extra == 0:
                    # Shanghai, no zone on file: day 1's 10:00 SMS is today, 02:00 UTC.
                    overdue, schedule = 1, "standard"
                rows.append(
                    {
                        **person,
                        "case_id": f"C-{case_no}",
                        "amount": f"{amount:.2f}",
                        "currency": region.currency,
                        "due_date": (today - timedelta(days=overdue)).isoformat(),
                        "schedule": schedule,
                        "state": state,
                    }
                )
    return rows


def self_check(rows: list[dict[str, str]]) -> list[str]:
    """Every problem that would make these rows unfit as sample data."""
    problems: list[str] = []
    case_ids = [row["case_id"] for row in rows]
    if len(set(case_ids)) != len(case_ids):
        problems.append("case ids are not unique")
    states = {row["state"] for row in rows}
    for state in ("open", "plan", "hardship", "disputed", "ceased", "paid"):
        if state not in states:
            problems.append(f"no case in state {state}")
    if sum(1 for row in rows if not row["timezone"]) < 2:
        problems.append("fewer than two people without a time zone")
    for row in rows:
        where = f"{row['case_id']}"
        for raw in row["phone"].split(";"):
            try:
                parsed = phonenumbers.parse(raw)
            except phonenumbers.NumberParseException as exc:
                problems.append(f"{where}: phone {raw!r} does not parse: {exc}")
                continue
            if not phonenumbers.is_valid_number(parsed):
                problems.append(f"{where}: phone {raw!r} is not a valid number")
            if row["locale"] == "zh-CN" and parsed.country_code != 86:
                problems.append(f"{where}: zh-CN person without a +86 number")
        if row["email"] and row["email"].rsplit("@", 1)[-1] not in EMAIL_DOMAINS:
            problems.append(f"{where}: email outside the example domains")
        if row["timezone"]:
            ZoneInfo(row["timezone"])
        if ";" in row["address"]:
            problems.append(f"{where}: ';' in an address would split it in two")
    return problems


def main() -> int:
    rows = sample_rows(date.today())
    problems = self_check(rows)
    if problems:
        for problem in problems:
            print(f"sample_data: {problem}", file=sys.stderr)
        return 1
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
