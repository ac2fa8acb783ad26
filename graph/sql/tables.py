"""The SQL tables of the graph (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Places are one table: each row carries the ids of its ancestors by level (`city_id` …
`entrance_id`), so a subtree, a scope check or a roll-up grouped by any level is one indexed
predicate instead of a recursive walk. Codes use the C collation on PostgreSQL so that they
sort byte-wise there as on SQLite, which keeps cursors and prefix searches identical.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from graph.audit import FIELD_LIMITS as AUDIT_LIMITS
from graph.levels import Level
from graph.logstore import CLAIM_LIMIT, HEAD_KIND_LIMIT, KEY_LIMIT, LOG_NAME_LIMIT

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def code_type(length: int) -> TypeEngine[str]:
    """A code column: byte-wise ordering on every backend."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


ANCESTOR_LEVELS = tuple(level for level in Level if level < Level.HOUSE)
"""Levels that can be ancestors; each has an `<level>_id` column on `place`."""


ANCESTOR_COLUMNS = tuple(f"{level.name.lower()}_id" for level in ANCESTOR_LEVELS)
"""The ancestor id columns of `place`, in level order (index = level - 1)."""


def ancestor_column(level: Level) -> str:
    return ANCESTOR_COLUMNS[level - 1]


def _provenance() -> list[Column[object]]:
    return [
        Column("source", String(64), nullable=True),
        Column("source_record", String(128), nullable=True),
        Column("fetched_at", DateTime(timezone=True), nullable=True),
        Column("run_id", String(64), nullable=True),
    ]


place = Table(
    "place",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", code_type(28), nullable=False, unique=True),
    Column("level", SmallInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_id", Integer, ForeignKey("place.id"), nullable=True),
    *(Column(ancestor_column(level), Integer, nullable=True) for level in ANCESTOR_LEVELS),
    Column("geometry", Text, nullable=True),
    Column("min_lon", Float, nullable=True),
    Column("min_lat", Float, nullable=True),
    Column("max_lon", Float, nullable=True),
    Column("max_lat", Float, nullable=True),
    Column("parcel_codes", String(400), nullable=True),
    Column("floors", SmallInteger, nullable=True),
    Column("area_centi_m2", BigInteger, nullable=True),  # 建筑面积 in hundredths of a m² (graph.model.Place)
    Column("floor", SmallInteger, nullable=True),
    Column("usage", String(16), nullable=True),
    *_provenance(),
    Index("ix_place_level_code", "level", "code"),
    Index("ix_place_parent_id", "parent_id", "code"),
    *(
        Index(f"ix_place_{ancestor_column(level)}", ancestor_column(level), "level", "code")
        for level in ANCESTOR_LEVELS
    ),
)

owner = Table(
    "owner",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    # personal data: SM4-GCM sealed values, found through keyed SM3 blind indexes (hex)
    Column("name_sealed", LargeBinary, nullable=False),
    Column("id_number_sealed", LargeBinary, nullable=False),
    Column("phone_sealed", LargeBinary, nullable=True),
    Column("name_index", String(64), nullable=False),
    Column("id_number_index", String(64), nullable=False),
    Column("phone_index", String(64), nullable=True),
    *_provenance(),
    Index("ix_owner_name_index", "name_index"),
    Index("ix_owner_id_number_index", "id_number_index"),
    Index("ix_owner_phone_index", "phone_index"),
)

ownership = Table(
    "ownership",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("house_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("owner.id"), nullable=False),
    Column("share", Float, nullable=False),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    Column("origin", String(32), nullable=False),
    *_provenance(),
    UniqueConstraint("house_id", "owner_id", "since"),
    Index("ix_ownership_owner_id", "owner_id"),
)

firm = Table(
    "firm",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", code_type(18), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=True),
    *_provenance(),
)

management = Table(
    "management",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("firm_id", Integer, ForeignKey("firm.id"), nullable=False),
    Column("since", Date, nullable=False),
    Column("until", Date, nullable=True),
    *_provenance(),
    UniqueConstraint("estate_id", "firm_id", "since"),
    Index("ix_management_firm_id", "firm_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(AUDIT_LIMITS["actor"]), nullable=False),
    Column("role", String(AUDIT_LIMITS["role"]), nullable=False),
    Column("action", String(AUDIT_LIMITS["action"]), nullable=False),
    Column("target", String(AUDIT_LIMITS["target"]), nullable=False),
    Column("detail", Text, nullable=False),
    Column("reason", String(AUDIT_LIMITS["reason"]), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

token = Table(
    "token",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoke_reason", String(200), nullable=True),
)

place_stats = Table(
    "place_stats",
    metadata,
    Column("place_id", Integer, ForeignKey("place.id"), primary_key=True),
    Column("houses", Integer, nullable=False),
    Column("floor_area_centi_m2", BigInteger, nullable=False),
    Column("owners", Integer, nullable=False),
    Column("estates", Integer, nullable=False),
    Column("buildings", Integer, nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
)

# -- connectors (graph.ledger) ------------------------------------------------------------

connector_run = Table(
    "connector_run",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("full_read", SmallInteger, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("read", Integer, nullable=False),
    Column("written", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("dead_lettered", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("retried", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("places_added", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("lease_pid", Integer, nullable=True),
    Column("lease_host", String(255), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(400), nullable=True),
    Index("ix_connector_run_connector", "connector", "started_at"),
    Index("ix_connector_run_started_at", "started_at"),
    Index("ix_connector_run_status_lease_expires_at", "status", "lease_expires_at"),
)

stream_state = Table(
    "stream_state",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("cursor", String(400), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64), nullable=False),
)

dead_letter = Table(
    "dead_letter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("record_key", String(400), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("candidates", Text, nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("last_run_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("seen", Integer, nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("first_detail", Text, nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by_run", String(64), nullable=True),
    Column("cursor", String(400), nullable=True),
    Column("retryable", SmallInteger, nullable=False),
    UniqueConstraint("connector", "stream", "record_key", "reason"),
    Index("ix_dead_letter_connector_resolved_at_at", "connector", "resolved_at", "at"),
)

# -- utilities (graph.utilities) ------------------------------------------------------------

utility_account = Table(
    "utility_account",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("utility", String(16), nullable=False),
    Column("account_no", String(64), nullable=False),
    Column("house_id", Integer, ForeignKey("place.id"), nullable=False),
    *_provenance(),
    UniqueConstraint("utility", "account_no"),
    Index("ix_utility_account_house_id", "house_id"),
)

bill = Table(
    "bill",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("utility_account.id"), nullable=False),
    Column("period", String(7), nullable=False),
    # money in whole fen (分): sums and comparisons exact (graph.utilities.Bill)
    Column("amount_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False),
    Column("due", Date, nullable=False),
    *_provenance(),
    UniqueConstraint("account_id", "period"),
)

outage = Table(
    "outage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("utility", String(16), nullable=False),
    Column("notice_id", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(400), nullable=False),
    Column("planned", SmallInteger, nullable=False),
    *_provenance(),
    UniqueConstraint("utility", "notice_id"),
    Index("ix_outage_starts_at", "starts_at"),
)

outage_place = Table(
    "outage_place",
    metadata,
    Column("outage_id", Integer, ForeignKey("outage.id"), primary_key=True),
    Column("place_id", Integer, ForeignKey("place.id"), primary_key=True),
    Index("ix_outage_place_place_id", "place_id"),
)

# -- cases (graph.cases) ----------------------------------------------------------------------

case = Table(
    "work_case",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("source_kind", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("title", String(400), nullable=False),
    Column("description", Text, nullable=False),
    Column("place_id", Integer, ForeignKey("place.id"), nullable=True),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("address", String(400), nullable=True),
    Column("external_id", String(128), nullable=True),
    Column("firm_id", Integer, ForeignKey("firm.id"), nullable=True),
    Column("severity", String(16), nullable=True),
    Column("deadline", DateTime(timezone=True), nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("push_to", String(64), nullable=True),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    *_provenance(),
    # the workflow (graph.workflow): response and resolution deadlines, escalation
    Column("dispatched_at", DateTime(timezone=True), nullable=True),
    Column("sign_by", DateTime(timezone=True), nullable=True),
    Column("signed_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("escalation", SmallInteger, nullable=True),
    Column("escalated_at", DateTime(timezone=True), nullable=True),
    # the person it is assigned to (graph.staff.dispatch) and the on-site deadline (96139)
    Column("assignee", String(64), nullable=True),
    Column("arrive_by", DateTime(timezone=True), nullable=True),
    Column("arrived_at", DateTime(timezone=True), nullable=True),
    # writes so far: graph.cases.CaseStore.update_case writes only over the version it was given
    Column("version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("source_kind", "external_id"),
    Index("ix_work_case_place_id", "place_id"),
    Index("ix_work_case_reported_at", "reported_at"),
    Index("ix_work_case_firm_id", "firm_id"),
    Index("ix_work_case_assignee_status", "assignee", "status"),
    Index("ix_work_case_status_sign_by", "status", "sign_by"),
    Index("ix_work_case_status_deadline", "status", "deadline"),
)

case_event = Table(
    "case_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("work_case.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("from_status", String(32), nullable=True),
    Column("to_status", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("note", Text, nullable=False),
    UniqueConstraint("case_id", "seq"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("case_id", Integer, ForeignKey("work_case.id"), nullable=False),
    Column("external_id", String(128), nullable=True),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_target", "target", "sent_at", "id"),
)

counter = Table(
    "counter",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)
"""Named counters (graph.cases.CaseStore.next_number), e.g. the day's sequence of case ids."""

# -- devices (graph.devices) ------------------------------------------------------------------

device = Table(
    "device",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", code_type(64), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("model", String(100), nullable=False),
    Column("name", String(100), nullable=False),
    Column("place_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("interval_s", Integer, nullable=False),
    Column("thresholds", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=True),
    Column("values", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    # the device's own time of the newest reading ingestion's rules took in (graph.devices)
    Column("reading_at", DateTime(timezone=True), nullable=True),
    *_provenance(),
    Index("ix_device_place_id", "place_id"),
)

reading = Table(
    "reading",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", Integer, ForeignKey("device.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("values", Text, nullable=False),
    # SHA-256 of `values` (first 16 hex digits): a redelivered message is the same reading
    Column("digest", String(16), nullable=False),
    # one row per device, time, kind and values: what the broker sends again is not stored twice
    Index("ix_reading_key", "device_id", "at", "kind", "digest", unique=True),
    Index("ix_reading_at", "at"),
)

alarm = Table(
    "alarm",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(32), nullable=False, unique=True),
    Column("device_id", Integer, ForeignKey("device.id"), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", String(400), nullable=False),
    Column("value", String(200), nullable=True),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("cleared_at", DateTime(timezone=True), nullable=True),
    Column("case_id", Integer, ForeignKey("work_case.id"), nullable=True),
    # at most one active alarm per device and rule, whoever raises it
    Index(
        "ix_alarm_active",
        "device_id",
        "rule",
        unique=True,
        sqlite_where=text("cleared_at IS NULL"),
        postgresql_where=text("cleared_at IS NULL"),
    ),
    Index("ix_alarm_raised_at", "raised_at", "id"),
    Index("ix_alarm_device_id", "device_id", "raised_at"),
)

shared_query = Table(
    "shared_query",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("document", Text, nullable=False),
    Column("variables", Text, nullable=False),
    Column("csv_path", String(200), nullable=True),
    Column("owner_name", String(200), nullable=False),
    Column("owner_role", String(32), nullable=False),
    Column("owner_scope", String(64), nullable=False),
    Column("roles", Text, nullable=False),
    Column("organisations", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("name", "version"),
)

safelist = Table(
    "safelist",
    metadata,
    Column("role", String(32), primary_key=True),
    Column("enabled", SmallInteger, nullable=False),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# -- append-only Merkle logs (graph.logstore) ---------------------------------------------------

merkle_log = Table(
    "merkle_log",
    metadata,
    Column("name", code_type(LOG_NAME_LIMIT), primary_key=True),
    # entries held: the compare-and-set of an append (UPDATE … WHERE size = expected; a log's
    # first append inserts the row, and a concurrent first append meets its primary key)
    Column("size", BigInteger, nullable=False),
)
"""One row per log that was ever appended to."""

merkle_entry = Table(
    "merkle_entry",
    metadata,
    Column("log", code_type(LOG_NAME_LIMIT), primary_key=True),
    Column("index", BigInteger, primary_key=True, autoincrement=False),
    Column("key", code_type(KEY_LIMIT), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_merkle_entry_log_key", "log", "key"),
)

merkle_node = Table(
    "merkle_node",
    metadata,
    Column("log", code_type(LOG_NAME_LIMIT), primary_key=True),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)
"""Hashes of the complete aligned subtrees: (level, index) covers entries [index·2^level, (index+1)·2^level)."""

merkle_head = Table(
    "merkle_head",
    metadata,
    Column("log", code_type(LOG_NAME_LIMIT), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", code_type(HEAD_KIND_LIMIT), primary_key=True),
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("root", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

merkle_claim = Table(
    "merkle_claim",
    metadata,
    Column("key", code_type(CLAIM_LIMIT), primary_key=True),
    Column("claimant", String(CLAIM_LIMIT), nullable=False),
)
"""Claim keys, each held by one claimant for good (taken with an append)."""

# -- votes (graph.votes.records) ---------------------------------------------------------------
# A vote's items, candidates and documents are JSON text on its row: they are never queried on
# their own. The frozen electorate is one row per house, with a row per (owner, house) in
# `vote_holder` to find an owner's houses; proxies one row per house.

vote = Table(
    "vote",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(40), nullable=False, unique=True),
    Column("place_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("organiser_role", String(32), nullable=False),
    Column("organiser_scope", String(32), nullable=False),
    Column("organiser_name", String(200), nullable=False),
    Column("organiser_capacity", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("record_date", Date, nullable=False),
    Column("notice_at", DateTime(timezone=True), nullable=False),
    Column("opens_at", DateTime(timezone=True), nullable=False),
    Column("closes_at", DateTime(timezone=True), nullable=False),
    Column("items", Text, nullable=False),
    Column("documents", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_meeting", SmallInteger, nullable=False),
    Column("electorate_houses", Integer, nullable=True),
    Column("electorate_heads", Integer, nullable=True),
    Column("electorate_area_centi_m2", BigInteger, nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("result", Text, nullable=True),
    Index("ix_vote_place_id", "place_id", "key"),
    Index("ix_vote_estate_id", "estate_id"),
)

elector = Table(
    "elector",
    metadata,
    Column("vote_id", Integer, ForeignKey("vote.id"), primary_key=True),
    Column("house_code", code_type(28), primary_key=True),
    Column("area_centi_m2", BigInteger, nullable=False),
    Column("holders", Text, nullable=False),  # JSON list of owner ids, sorted
    Column("head", Text, nullable=False),
    Column("designated", String(64), nullable=True),
)

vote_holder = Table(
    "vote_holder",
    metadata,
    Column("vote_id", Integer, ForeignKey("vote.id"), primary_key=True),
    Column("owner", String(64), primary_key=True),
    Column("house_code", code_type(28), primary_key=True),
)

vote_proxy = Table(
    "vote_proxy",
    metadata,
    Column("vote_id", Integer, ForeignKey("vote.id"), primary_key=True),
    Column("house_code", code_type(28), primary_key=True),
    Column("grantor", String(64), nullable=False),
    Column("delegate", String(64), nullable=False),
    Column("reference", String(500), nullable=False),
    Column("registered_by", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_vote_proxy_delegate", "vote_id", "delegate", "house_code"),
    Index("ix_vote_proxy_delegate_votes", "delegate", "vote_id"),  # the votes an owner is a delegate in
)

committee = Table(
    "committee",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(40), nullable=False, unique=True),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("members", Text, nullable=False),  # JSON list of [owner id, post]
    Column("term_start", Date, nullable=False),
    Column("term_end", Date, nullable=False),
    Column("elected_by", String(40), nullable=True),
    Column("filed_on", Date, nullable=True),
    Index("ix_committee_estate_id", "estate_id", "term_start"),
)

meeting_step = Table(
    "meeting_step",
    metadata,
    Column("estate_id", Integer, ForeignKey("place.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)

# -- fund records (graph.funds.records) -----------------------------------------------------------
# Repair projects, and the fund and revenue journals folded: an account per house, figures per
# estate and calendar year, and per estate and journal the size the rows are folded up to (the
# compare-and-set of applying). Roll-ups join `place` for the ancestor columns.

fund_project = Table(
    "fund_project",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(64), nullable=False, unique=True),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("part_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("authority", String(16), nullable=False),
    Column("authority_ref", Text, nullable=False),
    Column("raised_by", Text, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("emergency", String(16), nullable=True),
    Column("case_id", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("cost_fen", BigInteger, nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("first_index", BigInteger, nullable=True),
    Column("debit_entries", BigInteger, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_fund_project_part_id", "part_id", "key"),
    Index("ix_fund_project_estate_id", "estate_id"),
)

fund_account = Table(
    "fund_account",
    metadata,
    Column("house_id", Integer, ForeignKey("place.id"), primary_key=True, autoincrement=False),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("house_code", code_type(28), nullable=False),  # the estate's accounts page by it
    Column("balance_fen", BigInteger, nullable=False),
    Column("first_deposit_fen", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("last_index", BigInteger, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Index("ix_fund_account_estate_id", "estate_id", "house_code"),
)

fund_year = Table(
    "fund_year",
    metadata,
    Column("estate_id", Integer, ForeignKey("place.id"), primary_key=True, autoincrement=False),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("credits_fen", BigInteger, nullable=False),
    Column("interest_fen", BigInteger, nullable=False),
    Column("repairs_fen", BigInteger, nullable=False),
)

revenue_year = Table(
    "revenue_year",
    metadata,
    Column("estate_id", Integer, ForeignKey("place.id"), primary_key=True, autoincrement=False),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("income_fen", BigInteger, nullable=False),
    Column("confirmed_income_fen", BigInteger, nullable=False),
    Column("cost_fen", BigInteger, nullable=False),
    Column("distributed_fen", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("unconfirmed", BigInteger, nullable=False),
)

fund_applied = Table(
    "fund_applied",
    metadata,
    Column("estate_id", Integer, ForeignKey("place.id"), primary_key=True, autoincrement=False),
    Column("journal", String(16), primary_key=True),  # "fund" or "revenue"
    # entries folded into the rows: UPDATE … WHERE size = from_size (the first apply inserts
    # the row, and a concurrent first apply meets its primary key)
    Column("size", BigInteger, nullable=False),
)

# -- party building (graph.party.records) -------------------------------------------------------
# Organisations sit in a place (scope is decided there); members belong to an organisation, their
# declared name sealed with SM4 beside its blind index, as owners' names are; claims hang from
# the estate of the case they take. `active_lock` is set only while a claim is active, so its
# unique constraint holds one active claim per case and member (NULLs never collide).

party_organisation = Table(
    "party_organisation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("host_kind", String(16), nullable=False),
    Column("host", code_type(64), nullable=False),
    Column("place_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("founded_on", Date, nullable=False),
    Column("secretary", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_party_organisation_place_id", "place_id", "key"),
    Index("ix_party_organisation_host", "host", "key"),
)

party_member = Table(
    "party_member",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(64), nullable=False, unique=True),
    Column("organisation_id", Integer, ForeignKey("party_organisation.id"), nullable=False),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("name_index", String(64), nullable=False),
    Column("post", String(40), nullable=False),
    Column("joined_on", Date, nullable=False),
    Column("left_on", Date, nullable=True),
    Column("link_kind", String(16), nullable=True),
    Column("link_id", String(200), nullable=True),
    Index("ix_party_member_organisation_id", "organisation_id", "key"),
    Index("ix_party_member_link_kind", "link_kind", "link_id"),
    Index("ix_party_member_name_index", "name_index"),
)

party_claim = Table(
    "party_claim",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", code_type(64), nullable=False, unique=True),
    Column("case_key", String(64), nullable=False),
    Column("member_key", String(64), nullable=False),
    Column("organisation_key", String(64), nullable=False),
    Column("estate_id", Integer, ForeignKey("place.id"), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("outcome_note", Text, nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("finished_by", String(200), nullable=True),
    Column("active_lock", String(200), nullable=True, unique=True),
    Index("ix_party_claim_case_key", "case_key"),
    Index("ix_party_claim_member_key", "member_key"),
    Index("ix_party_claim_estate_id", "estate_id", "claimed_at"),
)

# -- facility life records (graph.facilities.records) -----------------------------------------------
# A device's life record (one row, keyed by the device, its code beside it so the overdue sweep
# orders by due time then code through one index), and its events (unique per device and seq, and
# per device and source key). The watch columns are the due times the sweep has not yet alarmed:
# NULL otherwise, so their indexes hold only what may still fall overdue.

facility = Table(
    "facility",
    metadata,
    Column("device_id", Integer, ForeignKey("device.id"), primary_key=True, autoincrement=False),
    Column("code", code_type(64), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("installed_at", DateTime(timezone=True), nullable=True),
    Column("installed_by", String(200), nullable=True),
    Column("registration_number", String(200), nullable=True),
    Column("rescue_code", String(8), nullable=True),
    Column("contractor_code", String(18), nullable=True),
    Column("contractor_name", String(200), nullable=True),
    Column("contract_number", String(200), nullable=True),
    Column("contract_start", Date, nullable=True),
    Column("contract_end", Date, nullable=True),
    Column("maintenance_days", Integer, nullable=True),
    Column("last_maintained_at", DateTime(timezone=True), nullable=True),
    Column("maintenance_due_at", DateTime(timezone=True), nullable=True),
    Column("maintenance_alarmed", Boolean, nullable=False),
    Column("maintenance_watch", DateTime(timezone=True), nullable=True),
    Column("last_inspected_at", DateTime(timezone=True), nullable=True),
    Column("inspection_result", String(32), nullable=True),
    Column("inspection_due_at", DateTime(timezone=True), nullable=True),
    Column("inspection_alarmed", Boolean, nullable=False),
    Column("inspection_watch", DateTime(timezone=True), nullable=True),
    Column("repairs", Integer, nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
    Index("ix_facility_maintenance_watch", "maintenance_watch", "code"),
    Index("ix_facility_inspection_watch", "inspection_watch", "code"),
)

facility_event = Table(
    "facility_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", Integer, ForeignKey("device.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("by_org", String(18), nullable=True),
    Column("by_staff", String(64), nullable=True),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("key", String(128), nullable=True),
    Column("note", String(400), nullable=False),
    Column("data", Text, nullable=False),
    UniqueConstraint("device_id", "seq"),
    UniqueConstraint("device_id", "key"),
    Index("ix_facility_event_kind_at", "kind", "at"),
)

# -- firms' credit (graph.credit.records) -------------------------------------------------------
# One row per firm, period and version: recomputing a period adds a version, never overwrites.

credit_score = Table(
    "credit_score",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("firm_id", Integer, ForeignKey("firm.id"), nullable=False),
    Column("period", String(7), nullable=False),  # YYYY-MM or YYYY (China Standard Time)
    Column("version", Integer, nullable=False),
    Column("total_centi", Integer, nullable=False),
    Column("estates", Integer, nullable=False),
    Column("houses", Integer, nullable=False),
    Column("parts", Text, nullable=False),  # graph.credit.texts.parts_json
    Column("no_data", String(16), nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("firm_id", "period", "version"),
    Index("ix_credit_score_period", "period", "firm_id", "version"),
)

# -- staff (graph.staff.records) ------------------------------------------------------------------
# A row per member of staff: personal data sealed and blind-indexed as owners' are; certificates
# and shifts as JSON documents (read whole with the member, never queried inside); the estates
# they work in by place id (their scope).

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("employer_id", Integer, ForeignKey("firm.id"), nullable=False),
    Column("post", String(32), nullable=False),
    Column("name_sealed", LargeBinary, nullable=False),
    Column("id_number_sealed", LargeBinary, nullable=False),
    Column("phone_sealed", LargeBinary, nullable=True),
    Column("name_index", String(64), nullable=False),
    Column("id_number_index", String(64), nullable=False),
    Column("phone_index", String(64), nullable=True),
    Column("certificates", Text, nullable=False),
    Column("shifts", Text, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("position_at", DateTime(timezone=True), nullable=True),
    Index("ix_staff_employer_id", "employer_id", "key"),
    Index("ix_staff_name_index", "name_index"),
    Index("ix_staff_id_number_index", "id_number_index"),
    Index("ix_staff_phone_index", "phone_index"),
)

staff_estate = Table(
    "staff_estate",
    metadata,
    Column("staff_id", Integer, ForeignKey("staff.id"), primary_key=True),
    Column("place_id", Integer, ForeignKey("place.id"), primary_key=True),
    Index("ix_staff_estate_place_id", "place_id"),
)
