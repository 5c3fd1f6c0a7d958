"""The store's tables, in SQLAlchemy Core, for SQLite and PostgreSQL alike.

Instants are stored as UTC (naive on SQLite, ``timestamptz`` on PostgreSQL) through
``UTCDateTime``, so every value read back is an aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 17

# ``cases.next_plan_at`` of a case the planner must look at on its next pass, whatever the
# horizon: the epoch. As a column default it is written the way SQLite stores a bound
# instant, so both sort alike there (PostgreSQL reads it in its own zone: as early anyway).
PLAN_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
PLAN_AT_ONCE_TEXT = "1970-01-01 00:00:00.000000"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # SQLite hands back the text it stores: read in one step instead of through
        # DATETIME's processor and then ``process_result_value`` (three Python calls a
        # value, a tenth of a claim that reads its people's histories). The same result.
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_instant


def _sqlite_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:  # as the store writes them: naive UTC text, read as UTC in one call
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # written otherwise (by hand, with an offset): read as it says
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

people = Table(
    "people",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("locale", String(32), nullable=False),
    Column("timezone", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contact_points = Table(
    "contact_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="ok"),
    Column("status_reason", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    # A phone number's line (model.PhoneLine: mobile, residence, work, other); NULL: not known.
    Column("line", String(16)),
    UniqueConstraint("person_id", "kind", "value", name="uq_contact"),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("channel", String(64), nullable=False),  # "*" = every channel
    Column("contact", Text),  # NULL = every address on that channel
    Column("source", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("cleared_at", UTCDateTime),
    Index("ix_opt_outs_person", "person_id"),
)

# A person's consent to a channel on one contact point (NULL = every one), for the rules that
# require it (6 RCNY 5-77); a revocation ends it, and nothing is deleted.
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("contact", Text),
    Column("source", String(64), nullable=False),
    Column("detail", Text),  # what the consent rests on (a signed form, a recorded call)
    Column("given_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", String(64)),
    Index("ix_consents_person", "person_id"),
)

# A person's own wishes (refused channels, contact hours, a language), each change a new row
# and nothing deleted: the latest row is in force, the earlier ones say what was set when.
wishes = Table(
    "wishes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("refused", Text, nullable=False),  # JSON: the channels refused
    Column("hours", Text, nullable=False),  # JSON: the contact-hour wishes (store/wishes.py)
    Column("language", String(32)),
    Column("source", String(64), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    Index("ix_wishes_person", "person_id", "id"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("amount", String(32), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("schedule", String(64), nullable=False),
    Column("paused_until", UTCDateTime),
    # A UK Breathing Space moratorium (SI 2020/1311): ``standard`` or ``crisis`` (mental-health
    # crisis, its end NULL until recorded), held from its start to its end whatever the state.
    Column("breathing_space", String(16)),
    Column("breathing_space_start", UTCDateTime),
    Column("breathing_space_until", UTCDateTime),
    Column("planned_through", UTCDateTime),
    # When the planner must look at the case again: the due instant of its next step not yet
    # planned (it is planned once that falls within ``plan_ahead``), the epoch when something
    # changed what is planned (an event, a re-import, a schedule's steps), NULL when nothing
    # is left to plan. A case inserted without it is looked at by the next planning.
    Column("next_plan_at", UTCDateTime, server_default=text(f"'{PLAN_AT_ONCE_TEXT}'")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_cases_person", "person_id"),
    Index("ix_cases_state", "state"),
    Index("ix_cases_next_plan", "next_plan_at", "id"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(128), ForeignKey("cases.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("until", UTCDateTime),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(64), nullable=False),
    Column("detail", Text),
    Index("ix_case_events_case", "case_id"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(128), ForeignKey("cases.id"), nullable=False),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("schedule", String(64), nullable=False),
    Column("step", String(240), nullable=False),  # the step id (a repeat: "<id>+<n>")
    Column("channel", String(64), nullable=False),
    Column("template", String(128), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("original_due_at", UTCDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("last_reason", Text),
    # Which daemon holds the claim, and since when: a node recovers only its own claims, and
    # another node's only once they are older than the claim lease (that node is gone).
    Column("claimed_by", String(128)),
    Column("claimed_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "schedule", "step", name="uq_reminder_step"),
    # Claims read pending reminders in (due_at, id) order: with id in the key PostgreSQL reads
    # the first rows of the range as they are, instead of sorting every reminder that shares
    # a due instant (a step due at one hour for thousands of cases). SQLite keys every index
    # by rowid (the id) after its columns already.
    Index("ix_reminders_due", "state", "due_at", "id"),
    Index("ix_reminders_person", "person_id", "state"),
    Index("ix_reminders_case", "case_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id")),
    Column("person_id", String(128), ForeignKey("people.id"), nullable=False),
    Column("case_id", String(128), ForeignKey("cases.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("contact_kind", String(16), nullable=False),
    Column("contact", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", String(24), nullable=False),
    Column("counted", Boolean, nullable=False, default=True),
    Column("provider_id", String(128)),
    Column("error_code", String(64)),
    Column("detail", Text),
    Index("ix_attempts_person_at", "person_id", "at"),
    Index("ix_attempts_reminder", "reminder_id"),
    Index("ix_attempts_provider", "provider_id"),
    Index("ix_attempts_outcome", "outcome"),
    Index("ix_attempts_at", "at"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id"), nullable=False),
    Column("case_id", String(128), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("until", UTCDateTime),
    Column("reasons", Text, nullable=False),  # JSON list of [code, text]
    Column("flags", Text, nullable=False, default=""),
    Column("attempt_id", String(40)),
    # The policy and templates in force (hash), so an audit can name the exact rules used.
    Column("policy_version", String(32)),
    Index("ix_decisions_reminder", "reminder_id"),
    Index("ix_decisions_case", "case_id"),
    Index("ix_decisions_at", "at"),
)

# The first answer to each API request made with an Idempotency-Key, so a retried POST gets
# the same answer instead of acting twice. ``status`` is NULL while the first request runs.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request", String(300), nullable=False),  # method and path
    Column("body_sha256", String(64), nullable=False),
    Column("status", Integer),
    Column("response", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

# Counts kept by triggers for ``status`` (store/tallies.py): reminders by state, channel and
# (pending only) the reasons of their last deferral; failed and unknown attempts by channel,
# outcome and error code ('' for none). One row per key on SQLite; on PostgreSQL rows are
# appended per statement and summed on read, so several nodes never wait on one row.
reminder_tallies = Table(
    "reminder_tallies",
    metadata,
    Column("state", String(16), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("ux_reminder_tallies", "state", "channel", "reason", unique=True).ddl_if(
        dialect="sqlite"
    ),
)

attempt_tallies = Table(
    "attempt_tallies",
    metadata,
    Column("channel", String(64), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("ux_attempt_tallies", "channel", "outcome", "error_code", unique=True).ddl_if(
        dialect="sqlite"
    ),
)

# What a call will say once answering-machine detection has decided who answered (TwiML for a
# person, and the limited-content voicemail for a machine), kept with its attempt so whichever
# node Twilio's verdict reaches can answer it. Personal data: a row is taken (deleted) by the
# verdict, deleted when the call ends, and never outlives ``expires_at`` (removed at the next
# call placed, or by the next look after it).
call_scripts = Table(
    "call_scripts",
    metadata,
    Column("attempt_id", String(40), primary_key=True),
    Column("person", Text, nullable=False),
    Column("machine", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_call_scripts_expires", "expires_at"),
)

# Provider events already applied (store/inbound.py), so a webhook posted twice acts once;
# each row is kept until ``keep_until``.
inbound_events = Table(
    "inbound_events",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("keep_until", UTCDateTime, nullable=False),
    Index("ix_inbound_events_keep", "keep_until"),
)

# The order stamp of the last opt-out or opt-in applied per address and channel, so an older
# one arriving late never undoes a newer one.
consent_order = Table(
    "consent_order",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("contact", String(320), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
)

# Arrangements on a case (a promise to pay, an instalment plan) and their instalments; money
# as decimal text in the case's currency, as ``cases.amount`` is.
arrangements = Table(
    "arrangements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(128), ForeignKey("cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # promise | plan
    Column("state", String(16), nullable=False),  # active | kept | broken | cancelled
    Column("reason", Text),  # why it ended
    Column("source", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_arrangements_case", "case_id"),
    Index("ix_arrangements_state", "state"),
)

instalments = Table(
    "instalments",
    metadata,
    Column("arrangement_id", Integer, ForeignKey("arrangements.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("due", Date, nullable=False),
    Column("amount", String(32), nullable=False),
    Column("paid", String(32), nullable=False),
    # The end of the due date in the person's zone: the grace is counted from it.
    Column("deadline", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime),
    Index("ix_instalments_open", "settled_at", "deadline"),
)

# Payments received on a case; a reference given again is the same payment.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(128), ForeignKey("cases.id"), nullable=False),
    Column("amount", String(32), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("reference", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "reference", name="uq_payment_reference"),
)
